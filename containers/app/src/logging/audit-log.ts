import { inject, injectable } from 'tsyringe';
import type { Experiment } from '../model/experiment';
import type { User } from '../model/user';
import { isLogging } from './faceted';
import { Logging, type Log } from './logging';

/** Every kind of admin change, as `audit.<entity>.<action>`. */
export type AuditEvent =
  | 'audit.user.create'
  | 'audit.user.update'
  | 'audit.user.erase'
  | 'audit.experiment.create'
  | 'audit.experiment.update'
  | 'audit.experiment.delete'
  | 'audit.association.create'
  | 'audit.association.delete';

/** Who made the change: a user's id, or the command-line tool that made it. */
export type AuditActor = { userId: string } | 'cli';

export interface AuditTarget {
  /** The user changed, or associated or dissociated. */
  user?: User | string;
  /** The experiment changed, or that a user was associated with or dissociated from. */
  experiment?: Experiment | string;
  /** Anything else an auditor needs (e.g. `force` on delete). */
  details?: Record<string, unknown>;
}

/**
 * The audit trail: one `audit.*` line per admin change, with the actor's and
 * the target's ids. A `User` given as target is logged whole: its personal
 * fields read `***` here (faceted data), so the line shows which fields a
 * change touched without what they hold.
 */
@injectable()
export class AuditLog {
  private readonly log: Log;

  constructor(@inject(Logging) logging: Logging) {
    this.log = logging.logger('audit');
  }

  @isLogging
  record(event: AuditEvent, actor: AuditActor, target: AuditTarget): void {
    const user = target.user;
    const experiment = target.experiment;
    this.log.info(event, {
      event,
      actorId: actor === 'cli' ? 'cli' : actor.userId,
      ...(user === undefined ? {} : { targetUserId: typeof user === 'string' ? user : user.userId }),
      ...(experiment === undefined
        ? {}
        : { targetExperimentId: typeof experiment === 'string' ? experiment : experiment.experimentId }),
      ...(typeof user === 'object' ? { user } : {}),
      ...(target.details ?? {}),
    });
  }
}
