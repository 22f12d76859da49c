import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ExperimentRepository } from '../../src/storage/experiment.repository';
import { MeasureRepository } from '../../src/storage/measure.repository';
import { StorageConnector } from '../../src/storage/storage-connector';
import { assertProblem, type ApiResponse } from '../support/api-client';
import { startTestApp, type TestApp } from '../support/test-app';
import {
  T0,
  associate,
  createAdmin,
  createExperiment,
  createScientist,
  storeMeasures,
  type Person,
} from '../support/world';

const ids = (items: { experiment_id?: string; user_id?: string }[]) =>
  items.map((i) => i.experiment_id ?? i.user_id);

describe('Experiments and associations', () => {
  let app: TestApp;
  let admin: Person;
  let scientist: Person;
  const asAdmin = () => ({ token: admin.token });

  before(async () => {
    app = await startTestApp();
    admin = await createAdmin(app);
    scientist = await createScientist(app, admin, 'S1');
  });
  after(async () => app?.stop());

  it('When an admin creates an experiment, then 201 with Location and it can be read with empty stats', async () => {
    const response = await app.api.post(
      '/experiments',
      { experiment_id: 'ATLAS-TDAQ-01', name: 'TDAQ bench', description: 'Trigger and DAQ' },
      asAdmin(),
    );
    assert.equal(response.status, 201);
    assert.equal(response.headers.get('location'), '/experiments/ATLAS-TDAQ-01');
    const read = await app.api.get('/experiments/ATLAS-TDAQ-01', asAdmin());
    assert.equal(read.body.name, 'TDAQ bench');
    assert.equal(read.body.description, 'Trigger and DAQ');
    assert.equal(read.body.sensor_count, 0);
    assert.equal(read.body.last_measure_at, null);
  });

  it('When the experiment_id exists or the body is invalid, then 409 or 400 naming the fields', async () => {
    await createExperiment(app, admin, 'DUP');
    assertProblem(await app.api.post('/experiments', { experiment_id: 'DUP', name: 'again' }, asAdmin()), 409);
    assertProblem(
      await app.api.post('/experiments', { experiment_id: 'has space', name: '', colour: 'red' }, asAdmin()),
      400,
      ['body.experiment_id', 'body.name'],
    );
    assertProblem(await app.api.get('/experiments/has%20space', asAdmin()), 400, ['params.experiment_id']);
  });

  it('When an experiment is updated, then name and description change and created_at stays', async () => {
    await createExperiment(app, admin, 'UPD');
    const before = (await app.api.get('/experiments/UPD', asAdmin())).body;
    const response = await app.api.put('/experiments/UPD', { name: 'Renamed', description: 'new text' }, asAdmin());
    assert.equal(response.status, 200);
    const after = (await app.api.get('/experiments/UPD', asAdmin())).body;
    assert.equal(after.name, 'Renamed');
    assert.equal(after.description, 'new text');
    assert.equal(after.created_at, before.created_at);
    assert.ok(after.updated_at >= before.updated_at);
    assertProblem(await app.api.put('/experiments/NOPE', { name: 'x' }, asAdmin()), 404);
    assertProblem(await app.api.put('/experiments/UPD', { name: '' }, asAdmin()), 400, ['body.name']);
  });

  it('When a user is associated twice, then 201 then 200, and the scientist sees the experiment', async () => {
    await createExperiment(app, admin, 'ASSOC');
    const first = await app.api.post('/experiments/ASSOC/users', { user_id: 'S1' }, asAdmin());
    assert.equal(first.status, 201);
    assert.deepEqual(first.body, { experiment_id: 'ASSOC', user_id: 'S1' });
    assert.equal((await app.api.post('/experiments/ASSOC/users', { user_id: 'S1' }, asAdmin())).status, 200);
    const members = await app.api.get('/experiments/ASSOC/users', asAdmin());
    assert.deepEqual(ids(members.body.items), ['S1']);
    assert.equal((await app.api.get('/experiments/ASSOC', { token: scientist.token })).status, 200);
    const mine = await app.api.get('/users/S1/experiments', { token: scientist.token });
    assert.ok(ids(mine.body.items).includes('ASSOC'));
  });

  it('When associating an unknown user or experiment, then 404; a bad body, then 400', async () => {
    await createExperiment(app, admin, 'ASSOC-404');
    assertProblem(await app.api.post('/experiments/ASSOC-404/users', { user_id: 'GHOST' }, asAdmin()), 404);
    assertProblem(await app.api.post('/experiments/NOPE/users', { user_id: 'S1' }, asAdmin()), 404);
    assertProblem(await app.api.post('/experiments/ASSOC-404/users', {}, asAdmin()), 400, ['body.user_id']);
  });

  it('When a user is dissociated, then 204, the scientist gets 404, and a second dissociation 404', async () => {
    await createExperiment(app, admin, 'DISSOC');
    await associate(app, admin, 'DISSOC', 'S1');
    assert.equal((await app.api.delete('/experiments/DISSOC/users/S1', asAdmin())).status, 204);
    assertProblem(await app.api.get('/experiments/DISSOC', { token: scientist.token }), 404);
    assertProblem(await app.api.delete('/experiments/DISSOC/users/S1', asAdmin()), 404);
  });

  it('When experiments are listed, then admins see all, scientists their own, page by page', async () => {
    for (const id of ['L-1', 'L-2', 'L-3']) await createExperiment(app, admin, id);
    await associate(app, admin, 'L-2', 'S1');
    const all = await app.api.get('/experiments?limit=1000', asAdmin());
    assert.ok(['L-1', 'L-2', 'L-3'].every((id) => ids(all.body.items).includes(id)));
    const page1 = await app.api.get('/experiments?limit=2', asAdmin());
    assert.equal(page1.body.items.length, 2);
    const page2 = await app.api.get(`/experiments?limit=2&cursor=${page1.body.next_cursor}`, asAdmin());
    assert.ok(!ids(page2.body.items).some((id) => ids(page1.body.items).includes(id)));
    const own = await app.api.get('/experiments', { token: scientist.token });
    assert.ok(ids(own.body.items).includes('L-2'));
    assert.ok(!ids(own.body.items).includes('L-1'));
  });

  it('When an experiment has measures, then the detail shows them and delete needs force=true', async () => {
    await createExperiment(app, admin, 'DEL');
    await associate(app, admin, 'DEL', 'S1');
    await storeMeasures(app, 'DEL', [
      { sensor: 'a', timestamp: T0, value: 1, unit: null, tags: null },
      { sensor: 'b', timestamp: T0 + 5, value: 2, unit: null, tags: null },
    ]);
    const detail = await app.api.get('/experiments/DEL', asAdmin());
    assert.equal(detail.body.sensor_count, 2);
    assert.equal(detail.body.last_measure_at, new Date(T0 + 5).toISOString());

    assertProblem(await app.api.delete('/experiments/DEL', asAdmin()), 409);
    assert.equal((await app.api.get('/experiments/DEL/measures', asAdmin())).body.items.length, 2);

    assert.equal((await app.api.delete('/experiments/DEL?force=true', asAdmin())).status, 204);
    assertProblem(await app.api.get('/experiments/DEL', asAdmin()), 404);
    assertProblem(await app.api.get('/experiments/DEL', { token: scientist.token }), 404);
    // A new experiment with the same id starts empty: nothing of the old one leaks.
    await createExperiment(app, admin, 'DEL');
    const reborn = await app.api.get('/experiments/DEL', asAdmin());
    assert.equal(reborn.body.sensor_count, 0);
    assert.deepEqual((await app.api.get('/experiments/DEL/measures', asAdmin())).body.items, []);
    assertProblem(await app.api.get('/experiments/DEL', { token: scientist.token }), 404);
  });

  it('When a batch is being written to an experiment as it is deleted without force, then the batch commits first and the delete answers 409', async () => {
    await createExperiment(app, admin, 'RACE');
    const experiment = await app.container.resolve(ExperimentRepository).findById('RACE');
    // What ingestion does for a batch: lock the experiment's row (shared), write, commit.
    const connection = await app.container.resolve(StorageConnector).pool.getConnection();
    let deleting: Promise<unknown> | null = null;
    try {
      await connection.query('START TRANSACTION');
      await connection.query('SELECT id FROM experiments WHERE experiment_id = ? LOCK IN SHARE MODE', ['RACE']);
      const record = { experimentRef: experiment!.ref, sensor: 'a', timestamp: T0, value: 1, unit: null, tags: null };
      await app.container.resolve(MeasureRepository).upsert(connection, [record]);
      deleting = app.api.delete('/experiments/RACE', asAdmin());
      await new Promise((resolve) => setTimeout(resolve, 300));
      await connection.query('COMMIT');
    } finally {
      await connection.query('ROLLBACK'); // nothing left open if the test failed before COMMIT
      connection.release();
    }
    assertProblem((await deleting) as ApiResponse, 409);
    assert.equal((await app.api.get('/experiments/RACE/measures', asAdmin())).body.items.length, 1, 'the measure survives');
  });

  it('When an experiment has no measures, then it is deleted without force', async () => {
    await createExperiment(app, admin, 'EMPTY');
    assert.equal((await app.api.delete('/experiments/EMPTY', asAdmin())).status, 204);
    assertProblem(await app.api.delete('/experiments/EMPTY', asAdmin()), 404);
    assertProblem(await app.api.delete('/experiments/EMPTY?force=maybe', asAdmin()), 400, ['query.force']);
  });
});
