import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Measure } from '../../src/model/measure';
import { LiveMeasures } from '../../src/rabbit/live-measures';
import { LiveController } from '../../src/rest/controllers/live.controller';
import { eventually } from '../support/amqp';
import { forgedToken } from '../support/identities';
import { readEvents } from '../support/sse';
import { startTestApp, type TestApp } from '../support/test-app';
import { associate, createAdmin, createExperiment, createScientist, type Person } from '../support/world';

/** Opens a live stream and collects its events until it ends. */
async function openStream(app: TestApp, token: string) {
  const response = await fetch(`${app.baseUrl}/experiments/LIVE/measures/stream`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200);
  const events: { event: string; data: string }[] = [];
  let ended = false;
  const reading = (async () => {
    for await (const event of readEvents(response.body!)) events.push(event);
    ended = true;
  })();
  await eventually(() => events.some((e) => e.event === 'ready'), 10_000, 'the stream ready');
  return { events, ended: () => ended, reading };
}

describe('Live streams keep to the access they were opened with', () => {
  let first: TestApp;
  let second: TestApp;
  let admin: Person;

  before(async () => {
    first = await startTestApp();
    second = await startTestApp({}, first);
    admin = await createAdmin(first);
    await createExperiment(first, admin, 'LIVE');
    await eventually(async () => (await second.api.get('/ready')).status === 200, 10_000, 'second ready');
  });
  after(async () => {
    await second?.stop();
    await first?.stop();
  });

  it('When a scientist is dissociated on another instance, then their open stream ends at once, and a stream of someone else goes on', { timeout: 60_000 }, async () => {
    const scientist = await createScientist(first, admin, 'S-LIVE');
    await associate(first, admin, 'LIVE', scientist.userId);
    const theirs = await openStream(second, scientist.token);
    const admins = await openStream(second, admin.token);
    const response = await first.api.delete(`/experiments/LIVE/users/${scientist.userId}`, { token: admin.token });
    assert.equal(response.status, 204, response.text);
    await eventually(() => theirs.ended(), 5_000, "the scientist's stream ended");
    assert.deepEqual(theirs.events.at(-1), { event: 'end', data: '{"reason":"access-revoked"}' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(admins.ended(), false, "the admin's stream goes on");
    assert.equal((await fetch(`${second.baseUrl}/experiments/LIVE/measures/stream`, { headers: { authorization: `Bearer ${scientist.token}` } })).status, 404);
  });

  it('When measures arrive for a stream that has just ended but not yet closed, then they are dropped and the app lives on', { timeout: 60_000 }, async () => {
    const stream = await openStream(first, admin.token);
    const live = first.container.resolve(LiveMeasures);
    const listeners = (live as unknown as { listeners: Map<string, Set<(measures: Measure[]) => void>> }).listeners.get('LIVE');
    assert.ok(listeners && listeners.size > 0, 'the stream listens');
    const crashes: unknown[] = [];
    const onCrash = (error: unknown) => crashes.push(error);
    process.on('uncaughtException', onCrash);
    try {
      // Shutdown ends every stream; a batch committed in the same tick is announced before 'close'.
      first.container.resolve(LiveController).closeStreams();
      const measure: Measure = { experimentId: 'LIVE', sensor: 's', timestamp: Date.now(), value: 1, unit: null, tags: null };
      for (const listener of listeners) listener([measure]);
      await eventually(() => stream.ended(), 5_000, 'the stream ended');
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      process.off('uncaughtException', onCrash);
    }
    assert.deepEqual(crashes, []);
    assert.equal(stream.events.some((e) => e.event === 'measures'), false);
    assert.equal((await first.api.get('/health')).status, 200);
  });

  it('When a user is erased, then their open stream ends', { timeout: 60_000 }, async () => {
    const scientist = await createScientist(first, admin, 'S-ERASED');
    await associate(first, admin, 'LIVE', scientist.userId);
    const theirs = await openStream(second, scientist.token);
    const response = await first.api.delete(`/users/${scientist.userId}`, { token: admin.token });
    assert.ok([200, 204].includes(response.status), response.text);
    await eventually(() => theirs.ended(), 5_000, "the erased user's stream ended");
    assert.deepEqual(theirs.events.at(-1), { event: 'end', data: '{"reason":"access-revoked"}' });
  });

  it('When the token a stream was opened with expires, then the stream ends and says so', { timeout: 60_000 }, async () => {
    const scientist = await createScientist(first, admin, 'S-EXPIRY');
    await associate(first, admin, 'LIVE', scientist.userId);
    const started = Date.now();
    const theirs = await openStream(second, forgedToken(scientist.identity.uid, 3));
    await eventually(() => theirs.ended(), 10_000, 'the stream ended at expiry');
    assert.ok(Date.now() - started >= 1_500, 'not before the token expired');
    assert.deepEqual(theirs.events.at(-1), { event: 'end', data: '{"reason":"token-expired"}' });
  });
});
