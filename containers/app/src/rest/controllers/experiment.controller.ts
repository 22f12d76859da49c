import { inject, injectable } from 'tsyringe';
import { ExperimentService } from '../../services/experiment.service';
import { presentExperiment, presentExperimentDetails, presentUser } from '../presenters';
import { defineRoute, type Route } from '../route';
import {
  AssociationBody,
  AssociationParams,
  AssociationSchema,
  CreateExperimentBody,
  DeleteExperimentQuery,
  ExperimentDetailsSchema,
  ExperimentIdParams,
  ExperimentPage,
  ExperimentSchema,
  PageQuery,
  UpdateExperimentBody,
  UserList,
} from '../schemas';

@injectable()
export class ExperimentController {
  constructor(@inject(ExperimentService) private readonly experiments: ExperimentService) {}

  routes(): Route[] {
    const tag = 'Experiments';
    return [
      defineRoute({
        method: 'post',
        path: '/experiments',
        operationId: 'createExperiment',
        summary: 'Create an experiment',
        tag,
        access: 'admin',
        body: CreateExperimentBody,
        errors: [409],
        responses: {
          201: {
            description: 'Created',
            schema: ExperimentSchema,
            headers: { Location: 'URL of the new experiment' },
          },
        },
        handle: async ({ user, body }) => {
          const created = await this.experiments.create(user, body.experiment_id, body);
          return {
            status: 201,
            body: presentExperiment(created),
            headers: { Location: `/experiments/${encodeURIComponent(created.experimentId)}` },
          };
        },
      }),
      defineRoute({
        method: 'get',
        path: '/experiments',
        operationId: 'listExperiments',
        summary: 'Experiments you may see',
        description: 'Admins: every experiment. Scientists: the ones they are associated with.',
        tag,
        access: 'user',
        query: PageQuery,
        responses: { 200: { description: 'One page of experiments', schema: ExperimentPage } },
        handle: async ({ user, query }) => {
          const page = await this.experiments.list(user, query);
          return {
            status: 200,
            body: { items: page.items.map(presentExperiment), next_cursor: page.nextCursor },
          };
        },
      }),
      defineRoute({
        method: 'get',
        path: '/experiments/{experiment_id}',
        operationId: 'getExperiment',
        summary: 'One experiment with its sensor count and last measure time',
        tag,
        access: 'user',
        params: ExperimentIdParams,
        responses: { 200: { description: 'The experiment', schema: ExperimentDetailsSchema } },
        handle: async ({ user, params }) => ({
          status: 200,
          body: presentExperimentDetails(await this.experiments.get(user, params.experiment_id)),
        }),
      }),
      defineRoute({
        method: 'put',
        path: '/experiments/{experiment_id}',
        operationId: 'updateExperiment',
        summary: 'Update an experiment\u2019s name and description',
        tag,
        access: 'admin',
        params: ExperimentIdParams,
        body: UpdateExperimentBody,
        responses: { 200: { description: 'The updated experiment', schema: ExperimentSchema } },
        handle: async ({ user, params, body }) => ({
          status: 200,
          body: presentExperiment(await this.experiments.update(user, params.experiment_id, body)),
        }),
      }),
      defineRoute({
        method: 'delete',
        path: '/experiments/{experiment_id}',
        operationId: 'deleteExperiment',
        summary: 'Delete an experiment, its associations and its measures',
        description: 'Answers 409 when the experiment has measures, unless `force=true`.',
        tag,
        access: 'admin',
        params: ExperimentIdParams,
        query: DeleteExperimentQuery,
        errors: [409],
        responses: { 204: { description: 'Deleted' } },
        handle: async ({ user, params, query }) => {
          await this.experiments.delete(user, params.experiment_id, query.force === 'true');
          return { status: 204 };
        },
      }),
      defineRoute({
        method: 'post',
        path: '/experiments/{experiment_id}/users',
        operationId: 'associateUser',
        summary: 'Let a user see an experiment',
        description: 'Idempotent: 201 when the association is new, 200 when it already existed.',
        tag,
        access: 'admin',
        params: ExperimentIdParams,
        body: AssociationBody,
        responses: {
          200: { description: 'Already associated', schema: AssociationSchema },
          201: { description: 'Associated', schema: AssociationSchema },
        },
        handle: async ({ user, params, body }) => {
          const created = await this.experiments.associate(user, params.experiment_id, body.user_id);
          return {
            status: created ? 201 : 200,
            body: { experiment_id: params.experiment_id, user_id: body.user_id },
          };
        },
      }),
      defineRoute({
        method: 'get',
        path: '/experiments/{experiment_id}/users',
        operationId: 'listExperimentUsers',
        summary: 'Users associated with an experiment',
        tag,
        access: 'admin',
        params: ExperimentIdParams,
        responses: { 200: { description: 'The associated users', schema: UserList } },
        handle: async ({ user, params }) => ({
          status: 200,
          body: { items: (await this.experiments.associatedUsers(user, params.experiment_id)).map(presentUser) },
        }),
      }),
      defineRoute({
        method: 'delete',
        path: '/experiments/{experiment_id}/users/{user_id}',
        operationId: 'dissociateUser',
        summary: 'Stop a user from seeing an experiment',
        tag,
        access: 'admin',
        params: AssociationParams,
        responses: { 204: { description: 'Dissociated' } },
        handle: async ({ user, params }) => {
          await this.experiments.dissociate(user, params.experiment_id, params.user_id);
          return { status: 204 };
        },
      }),
    ];
  }
}
