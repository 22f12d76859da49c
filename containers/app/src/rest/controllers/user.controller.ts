import { inject, injectable } from 'tsyringe';
import { ExperimentService } from '../../services/experiment.service';
import { UserService } from '../../services/user.service';
import { presentExperiment, presentUser } from '../presenters';
import { defineRoute, type Route } from '../route';
import {
  CreateUserBody,
  ExperimentPage,
  PageQuery,
  UpdateUserBody,
  UserIdParams,
  UserListQuery,
  UserPage,
  UserSchema,
} from '../schemas';

@injectable()
export class UserController {
  constructor(
    @inject(UserService) private readonly users: UserService,
    @inject(ExperimentService) private readonly experiments: ExperimentService,
  ) {}

  routes(): Route[] {
    const tag = 'Users';
    return [
      defineRoute({
        method: 'get',
        path: '/me',
        operationId: 'getMe',
        summary: 'The signed-in user',
        tag,
        access: 'user',
        responses: { 200: { description: 'Your user record', schema: UserSchema } },
        handle: ({ user }) => Promise.resolve({ status: 200, body: presentUser(user) }),
      }),
      defineRoute({
        method: 'post',
        path: '/users',
        operationId: 'createUser',
        summary: 'Create a user',
        description: 'Links a Firebase identity (`username` = its uid) to a new MyMONIT user.',
        tag,
        access: 'admin',
        body: CreateUserBody,
        errors: [409],
        responses: {
          201: { description: 'Created', schema: UserSchema, headers: { Location: 'URL of the new user' } },
        },
        handle: async ({ user, body }) => {
          const created = await this.users.create(user, body.user_id, body);
          return {
            status: 201,
            body: presentUser(created),
            headers: { Location: `/users/${encodeURIComponent(created.userId)}` },
          };
        },
      }),
      defineRoute({
        method: 'get',
        path: '/users',
        operationId: 'listUsers',
        summary: 'List users',
        description: 'In `user_id` order; erased users only with `include_erased=true`.',
        tag,
        access: 'admin',
        query: UserListQuery,
        responses: { 200: { description: 'One page of users', schema: UserPage } },
        handle: async ({ user, query }) => {
          const page = await this.users.list(user, {
            limit: query.limit,
            cursor: query.cursor,
            includeErased: query.include_erased === 'true',
          });
          return { status: 200, body: { items: page.items.map(presentUser), next_cursor: page.nextCursor } };
        },
      }),
      defineRoute({
        method: 'get',
        path: '/users/{user_id}',
        operationId: 'getUser',
        summary: 'One user (admins, or the user themself)',
        tag,
        access: 'user',
        params: UserIdParams,
        responses: { 200: { description: 'The user', schema: UserSchema } },
        handle: async ({ user, params }) => ({
          status: 200,
          body: presentUser(await this.users.get(user, params.user_id)),
        }),
      }),
      defineRoute({
        method: 'put',
        path: '/users/{user_id}',
        operationId: 'updateUser',
        summary: 'Replace a user\u2019s name, username, email and role',
        tag,
        access: 'admin',
        params: UserIdParams,
        body: UpdateUserBody,
        errors: [409],
        responses: { 200: { description: 'The updated user', schema: UserSchema } },
        handle: async ({ user, params, body }) => ({
          status: 200,
          body: presentUser(await this.users.update(user, params.user_id, body)),
        }),
      }),
      defineRoute({
        method: 'delete',
        path: '/users/{user_id}',
        operationId: 'eraseUser',
        summary: 'Erase a user (GDPR)',
        description:
          'Removes name, email, username and associations; keeps `user_id`, `role` and `erased_at` for audit. The identity can no longer sign in. The last admin cannot be erased (409).',
        tag,
        access: 'admin',
        params: UserIdParams,
        errors: [409],
        responses: { 204: { description: 'Erased' } },
        handle: async ({ user, params }) => {
          await this.users.erase(user, params.user_id);
          return { status: 204 };
        },
      }),
      defineRoute({
        method: 'get',
        path: '/users/{user_id}/experiments',
        operationId: 'listUserExperiments',
        summary: 'Experiments a user is associated with (admins, or the user themself)',
        tag,
        access: 'user',
        params: UserIdParams,
        query: PageQuery,
        responses: { 200: { description: 'One page of experiments', schema: ExperimentPage } },
        handle: async ({ user, params, query }) => {
          const page = await this.experiments.experimentsOfUser(user, params.user_id, query);
          return {
            status: 200,
            body: { items: page.items.map(presentExperiment), next_cursor: page.nextCursor },
          };
        },
      }),
    ];
  }
}
