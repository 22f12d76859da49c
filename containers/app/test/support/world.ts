import assert from 'node:assert/strict';
import { UserService } from '../../src/services/user.service';
import { MeasureRepository, type MeasureRecord } from '../../src/storage/measure.repository';
import { ExperimentRepository } from '../../src/storage/experiment.repository';
import { StorageConnector } from '../../src/storage/storage-connector';
import { forgedToken, signUp, type Identity } from './identities';
import { rememberPersonalData } from './log-capture';
import type { TestApp } from './test-app';

export interface Person {
  userId: string;
  identity: Identity;
  token: string;
}

/**
 * A small world every authorisation test needs: an admin, a scientist associated
 * with EXP-A, one associated with nothing, an erased user, an identity that is
 * no user, and two experiments (EXP-A with measures, EXP-B without).
 */
export interface World {
  admin: Person;
  scientist: Person;
  outsider: Person;
  erased: Person;
  stranger: { identity: Identity; token: string };
  forged: string;
  experimentA: string;
  experimentB: string;
}

export async function createAdmin(app: TestApp, userId = 'A1'): Promise<Person> {
  const identity = await signUp('admin');
  rememberPersonalData('Admin Person');
  await app.container.resolve(UserService).bootstrapAdmin(userId, {
    name: 'Admin Person',
    username: identity.uid,
    email: identity.email,
    role: 'ADMIN',
  });
  return { userId, identity, token: identity.idToken };
}

export async function createScientist(app: TestApp, admin: Person, userId: string): Promise<Person> {
  const identity = await signUp(userId.toLowerCase());
  const response = await app.api.post(
    '/users',
    { user_id: userId, name: `Scientist ${userId}`, username: identity.uid, email: identity.email, role: 'SCIENTIST' },
    { token: admin.token },
  );
  assert.equal(response.status, 201, response.text);
  return { userId, identity, token: identity.idToken };
}

export async function createExperiment(app: TestApp, admin: Person, experimentId: string): Promise<void> {
  const response = await app.api.post(
    '/experiments',
    { experiment_id: experimentId, name: `Experiment ${experimentId}`, description: 'test bench' },
    { token: admin.token },
  );
  assert.equal(response.status, 201, response.text);
}

export async function associate(app: TestApp, admin: Person, experimentId: string, userId: string) {
  const response = await app.api.post(`/experiments/${experimentId}/users`, { user_id: userId }, { token: admin.token });
  assert.ok([200, 201].includes(response.status), response.text);
}

/** Stores measures directly (arrange step; ingestion has its own tests). */
export async function storeMeasures(
  app: TestApp,
  experimentId: string,
  measures: Omit<MeasureRecord, 'experimentRef'>[],
): Promise<void> {
  const experiment = await app.container.resolve(ExperimentRepository).findById(experimentId);
  assert.ok(experiment, `experiment ${experimentId} must exist`);
  const repository = app.container.resolve(MeasureRepository);
  await app.container
    .resolve(StorageConnector)
    .transaction((connection) =>
      repository.upsert(connection, measures.map((m) => ({ ...m, experimentRef: experiment.ref }))),
    );
}

export const T0 = Date.parse('2026-11-23T10:00:00.000Z');

export async function buildWorld(app: TestApp): Promise<World> {
  const admin = await createAdmin(app);
  const scientist = await createScientist(app, admin, 'S1');
  const outsider = await createScientist(app, admin, 'S2');
  const erased = await createScientist(app, admin, 'S9');
  await createExperiment(app, admin, 'EXP-A');
  await createExperiment(app, admin, 'EXP-B');
  await associate(app, admin, 'EXP-A', scientist.userId);
  await associate(app, admin, 'EXP-B', erased.userId);
  assert.equal((await app.api.delete(`/users/${erased.userId}`, { token: admin.token })).status, 204);
  await storeMeasures(
    app,
    'EXP-A',
    Array.from({ length: 10 }, (_, i) => ({
      sensor: i % 2 ? 'magnet/temp-01' : 'magnet/temp-02',
      timestamp: T0 + i * 1000,
      value: i,
      unit: 'K',
      tags: null,
    })),
  );
  const stranger = await signUp('stranger');
  return {
    admin,
    scientist,
    outsider,
    erased,
    stranger: { identity: stranger, token: stranger.idToken },
    forged: forgedToken('no-such-uid'),
    experimentA: 'EXP-A',
    experimentB: 'EXP-B',
  };
}
