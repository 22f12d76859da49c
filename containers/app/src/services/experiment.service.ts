import { inject, injectable } from 'tsyringe';
import { ConflictError, NotFoundError } from '../errors';
import { AuditLog } from '../logging/audit-log';
import type { Experiment, ExperimentDetails, ExperimentFields } from '../model/experiment';
import { isAdmin, type Actor, type User } from '../model/user';
import { AccessChanges } from '../rabbit/access-changes';
import { ExperimentRepository } from '../storage/experiment.repository';
import { UserRepository } from '../storage/user.repository';
import { requireAdmin, requireAdminOrSelf } from './access';
import { decodeCursor, isKeyCursor, pageOf, type Page } from './cursor';
import { ExperimentAccess } from './experiment-access';

export interface PageQuery {
  limit: number;
  cursor?: string;
}

@injectable()
export class ExperimentService {
  constructor(
    @inject(ExperimentRepository) private readonly experiments: ExperimentRepository,
    @inject(UserRepository) private readonly users: UserRepository,
    @inject(ExperimentAccess) private readonly access: ExperimentAccess,
    @inject(AuditLog) private readonly audit: AuditLog,
    @inject(AccessChanges) private readonly accessChanges: Pick<AccessChanges, 'changed'>,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async create(actor: Actor, experimentId: string, fields: ExperimentFields): Promise<Experiment> {
    requireAdmin(actor);
    const experiment = await this.experiments.insert(experimentId, fields, this.clock());
    await this.accessChanges.changed();
    this.audit.record('audit.experiment.create', actor, { experiment });
    return experiment;
  }

  /** Admins list every experiment, scientists those they are associated with. */
  async list(actor: Actor, query: PageQuery): Promise<Page<Experiment>> {
    return this.listFor(isAdmin(actor) ? undefined : actor.userId, query);
  }

  async get(actor: Actor, experimentId: string): Promise<ExperimentDetails> {
    return this.experiments.details(await this.access.visibleExperiment(actor, experimentId));
  }

  async update(actor: Actor, experimentId: string, fields: ExperimentFields): Promise<Experiment> {
    requireAdmin(actor);
    const experiment = await this.access.existingExperiment(experimentId);
    const now = this.clock();
    await this.experiments.update(experiment.ref, fields, now);
    await this.accessChanges.changed();
    this.audit.record('audit.experiment.update', actor, { experiment: experimentId });
    return { ...experiment, ...fields, updatedAt: now };
  }

  /** Refuses (409) to delete measures unless `force` says so: they cannot be measured twice. */
  async delete(actor: Actor, experimentId: string, force: boolean): Promise<void> {
    requireAdmin(actor);
    const experiment = await this.access.existingExperiment(experimentId);
    if (!(await this.experiments.delete(experiment.ref, force))) {
      throw new ConflictError(
        `experiment ${experimentId} has measures; delete with force=true to delete them too`,
      );
    }
    await this.accessChanges.changed();
    this.audit.record('audit.experiment.delete', actor, { experiment: experimentId, details: { force } });
  }

  /** Returns whether the association is new (false: it already existed). */
  async associate(actor: Actor, experimentId: string, userId: string): Promise<boolean> {
    requireAdmin(actor);
    const experiment = await this.access.existingExperiment(experimentId);
    const user = await this.users.findById(userId);
    if (!user || user.isErased) throw new NotFoundError(`user ${userId} not found`);
    const created = await this.experiments.associate(experiment.ref, userId, this.clock());
    if (created) await this.accessChanges.changed();
    if (created) this.audit.record('audit.association.create', actor, { experiment: experimentId, user: userId });
    return created;
  }

  async dissociate(actor: Actor, experimentId: string, userId: string): Promise<void> {
    requireAdmin(actor);
    const experiment = await this.access.existingExperiment(experimentId);
    if (!(await this.experiments.dissociate(experiment.ref, userId))) {
      throw new NotFoundError(`user ${userId} is not associated with experiment ${experimentId}`);
    }
    await this.accessChanges.changed();
    this.audit.record('audit.association.delete', actor, { experiment: experimentId, user: userId });
  }

  async associatedUsers(actor: Actor, experimentId: string): Promise<User[]> {
    requireAdmin(actor);
    const experiment = await this.access.existingExperiment(experimentId);
    return this.experiments.associatedUsers(experiment.ref);
  }

  /** The experiments a user is associated with (an admin sees every experiment anyway). */
  async experimentsOfUser(actor: Actor, userId: string, query: PageQuery): Promise<Page<Experiment>> {
    requireAdminOrSelf(actor, userId);
    const user = await this.users.findById(userId);
    if (!user || user.isErased) throw new NotFoundError(`user ${userId} not found`);
    return this.listFor(userId, query);
  }

  private async listFor(userId: string | undefined, query: PageQuery): Promise<Page<Experiment>> {
    const after = query.cursor ? decodeCursor(query.cursor, isKeyCursor).k : undefined;
    const rows = await this.experiments.list(query.limit + 1, after, userId);
    return pageOf(rows, query.limit, (last) => ({ k: last.experimentId }));
  }
}
