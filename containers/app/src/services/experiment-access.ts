import { inject, injectable } from 'tsyringe';
import { NotFoundError } from '../errors';
import type { Experiment } from '../model/experiment';
import { isAdmin, type Actor } from '../model/user';
import { ExperimentRepository } from '../storage/experiment.repository';
import { AccessCache } from './access-cache';

/**
 * Who may see which experiment: admins see all, a scientist only the ones they
 * are associated with. To anyone else an experiment does not exist (404), so
 * its existence is not revealed.
 */
@injectable()
export class ExperimentAccess {
  constructor(
    @inject(ExperimentRepository) private readonly experiments: ExperimentRepository,
    @inject(AccessCache) private readonly cache: AccessCache,
  ) {}

  async visibleExperiment(actor: Actor, experimentId: string): Promise<Experiment> {
    const found = await this.cache.experiment(experimentId, actor.userId, () =>
      this.experiments.findWithAssociation(experimentId, actor.userId),
    );
    if (found && (found.associated || isAdmin(actor))) return found.experiment;
    throw new NotFoundError(`experiment ${experimentId} not found`);
  }

  /** For admin routes: the experiment whatever the associations. */
  async existingExperiment(experimentId: string): Promise<Experiment> {
    const experiment = await this.experiments.findById(experimentId);
    if (!experiment) throw new NotFoundError(`experiment ${experimentId} not found`);
    return experiment;
  }
}
