import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { topologyOf } from '../../src/rabbit/topology';
import { StorageConnector } from '../../src/storage/storage-connector';
import { eventually, rabbitManagement } from '../support/amqp';
import { ConsoleLines } from '../support/log-capture';
import { startTestApp, type TestApp } from '../support/test-app';
import { associate, createAdmin, createExperiment, createScientist, type Person } from '../support/world';

/**
 * Each instance reuses user lookups and access checks (ACCESS_CACHE_SECONDS);
 * a change made through any instance must still take effect on every
 * instance at once. The caches here last 300 s, so only the notices can
 * explain a refusal seen within a second.
 */
describe('Access cache across instances', () => {
  let first: TestApp;
  let second: TestApp;
  let admin: Person;
  let scientist: Person;
  const console = new ConsoleLines();

  before(async () => {
    first = await startTestApp({ ACCESS_CACHE_SECONDS: '300' }, undefined, { console });
    second = await startTestApp({ ACCESS_CACHE_SECONDS: '300' }, first, { console });
    admin = await createAdmin(first);
    scientist = await createScientist(first, admin, 'S1');
    await createExperiment(first, admin, 'CACHE-A');
    await associate(first, admin, 'CACHE-A', scientist.userId);
  });
  after(async () => {
    await second?.stop();
    await first?.stop();
  });

  /** Polls `path` on `app` until it answers `status`; returns how long that took. */
  const untilStatus = async (app: TestApp, path: string, token: string, status: number) => {
    const started = Date.now();
    for (;;) {
      const response = await app.api.get(path, { token });
      if (response.status === status) return Date.now() - started;
      assert.ok(Date.now() - started < 1_000, `${path} still answers ${response.status} after 1 s (expected ${status})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  it('When an admin dissociates a scientist on one instance, then the other refuses them at once, and shows them again once re-associated', async () => {
    // Warm the second instance's cache: the scientist's user and access check.
    for (let i = 0; i < 3; i++) assert.equal((await second.api.get('/experiments/CACHE-A/measures', { token: scientist.token })).status, 200);
    const removed = await first.api.delete(`/experiments/CACHE-A/users/${scientist.userId}`, { token: admin.token });
    assert.equal(removed.status, 204);
    await untilStatus(second, '/experiments/CACHE-A/measures', scientist.token, 404);
    await associate(first, admin, 'CACHE-A', scientist.userId);
    await untilStatus(second, '/experiments/CACHE-A/measures', scientist.token, 200);
  });

  it('When an admin erases a user on one instance, then the other refuses their token at once', async () => {
    const doomed = await createScientist(first, admin, 'S7');
    await associate(first, admin, 'CACHE-A', doomed.userId);
    for (let i = 0; i < 3; i++) assert.equal((await second.api.get('/me', { token: doomed.token })).status, 200);
    assert.equal((await first.api.delete(`/users/${doomed.userId}`, { token: admin.token })).status, 204);
    await untilStatus(second, '/me', doomed.token, 403);
    await untilStatus(second, '/experiments/CACHE-A', doomed.token, 403);
  });

  it('When an admin demotes an admin on one instance, then the other refuses them admin routes at once', async () => {
    const deputy = await createScientist(first, admin, 'A2');
    const promote = (role: string) =>
      first.api.put(
        `/users/${deputy.userId}`,
        { name: 'Deputy', username: deputy.identity.uid, email: deputy.identity.email, role },
        { token: admin.token },
      );
    assert.equal((await promote('ADMIN')).status, 200);
    await untilStatus(second, '/users', deputy.token, 200);
    assert.equal((await promote('SCIENTIST')).status, 200);
    await untilStatus(second, '/users', deputy.token, 403);
  });

  it('When an experiment is created on one instance, then the other, which had answered 404 for it, shows it at once', async () => {
    assert.equal((await second.api.get('/experiments/CACHE-NEW', { token: admin.token })).status, 404);
    await createExperiment(first, admin, 'CACHE-NEW');
    await untilStatus(second, '/experiments/CACHE-NEW', admin.token, 200);
  });

  it('When a change bypasses the API (SQL), then an instance that had checked the access answers from its cache until ACCESS_CACHE_SECONDS', async () => {
    // The documented limit, and the proof that the tests above ran with caching in effect.
    assert.equal((await second.api.get('/experiments/CACHE-A', { token: scientist.token })).status, 200);
    await first.container.resolve(StorageConnector).pool.query('DELETE FROM experiment_users WHERE user_id = ?', [scientist.userId]);
    assert.equal((await second.api.get('/experiments/CACHE-A', { token: scientist.token })).status, 200);
    // The first instance never checked this access: it reads the table and refuses.
    assert.equal((await first.api.get('/experiments/CACHE-A', { token: scientist.token })).status, 404);
  });

  it('When the queue of access-change notices is deleted by hand, then each instance stops answering from its cache until it has subscribed again, and changes reach every instance again', { timeout: 30_000 }, async () => {
    const enabled = async (app: TestApp) => {
      const lines = (await app.api.get('/metrics')).text.split('\n');
      return Number(lines.find((l) => l.startsWith('mymonit_access_cache_enabled'))?.split(' ').at(-1));
    };
    assert.deepEqual([await enabled(first), await enabled(second)], [1, 1]);
    const exchange = encodeURIComponent(topologyOf(first.config).accessExchange);
    const queues = async () =>
      ((await (await rabbitManagement(`exchanges/%2F/${exchange}/bindings/source`)).json()) as { destination: string }[]).map((b) => b.destination);
    const deleted = await queues();
    assert.equal(deleted.length, 2, 'one notice queue per instance');
    // Exclusive queues: the management API refuses to delete them, rabbitmqctl does not.
    for (const queue of deleted) execFileSync('rabbitmqctl', ['delete_queue', queue], { stdio: 'ignore', timeout: 30_000 });
    const cancelled = () => console.lines.filter((line) => line.includes('access-change notices cancelled by the broker'));
    await eventually(() => cancelled().length === 2, 5_000, 'both instances told their notices were cancelled (their caches off)');
    // A second later each opens its channel again: a new queue, and the cache back on.
    await eventually(async () => (await enabled(first)) === 1 && (await enabled(second)) === 1, 10_000, 'both caches on again');
    const resubscribed = await queues();
    assert.equal(resubscribed.length, 2);
    assert.ok(resubscribed.every((queue) => !deleted.includes(queue)), 'new notice queues');
    // Notices flow again: a change on one instance takes effect on the other at once.
    await associate(first, admin, 'CACHE-A', scientist.userId);
    await untilStatus(second, '/experiments/CACHE-A', scientist.token, 200);
    assert.equal((await first.api.delete(`/experiments/CACHE-A/users/${scientist.userId}`, { token: admin.token })).status, 204);
    await untilStatus(second, '/experiments/CACHE-A', scientist.token, 404);
  });
});
