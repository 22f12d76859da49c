import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AmqpClient, eventually } from '../support/amqp';
import { freePort } from '../support/app-process';
import { signUp } from '../support/identities';
import { ConsoleLines } from '../support/log-capture';
import { LogstashListener, type LogLine } from '../support/logstash-listener';
import { metricIn } from '../support/metrics';
import { startTestApp, type TestApp } from '../support/test-app';
import { createAdmin, createScientist, type Person } from '../support/world';

async function metric(app: TestApp, name: string): Promise<number> {
  return metricIn((await app.api.get('/metrics')).text, name);
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function assertCommonFields(line: LogLine, component: string, level = 'info'): void {
  assert.equal(line.service, 'mymonit');
  assert.equal(line.component, component);
  assert.equal(line.level, level);
  assert.match(String(line['@timestamp']), ISO);
  assert.equal(typeof line.message, 'string');
  assert.equal('timestamp' in line, false, 'only @timestamp');
}

describe('Logging: the lines Logstash receives', () => {
  let listener: LogstashListener;
  let app: TestApp;
  let admin: Person;
  const byEvent = (event: string) => (line: LogLine) => line.event === event;

  before(async () => {
    listener = await LogstashListener.start();
    app = await startTestApp({
      LOGSTASH_ENABLED: 'true',
      LOGSTASH_HOST: '127.0.0.1',
      LOGSTASH_PORT: String(listener.port),
      LOG_LEVEL: 'info',
      DB_PASSWORD: '',
      RABBIT_PASSWORD: 'guest',
    });
    admin = await createAdmin(app);
  });
  after(async () => {
    await app.stop();
    await listener.stop();
  });

  it('When the app starts, then one line gives the effective configuration with every secret masked', async () => {
    const line = await listener.waitFor(byEvent('app.start'), 'the start-up line');
    assertCommonFields(line, 'app');
    const config = line.config as Record<string, Record<string, unknown>>;
    assert.equal(config.db.password, '***');
    assert.equal(config.db.database, app.config.db.database);
    assert.equal(config.rabbit.url, 'amqp://127.0.0.1');
    assert.equal(JSON.stringify(line).includes('guest'), false, 'the broker credentials must not be logged');
  });

  it('When a request is served, then one line has its id, method, route template, status, latency and user_id, and nothing personal', async () => {
    const response = await app.api.get(`/users/${admin.userId}`, { token: admin.token });
    assert.equal(response.status, 200);
    const requestId = response.headers.get('x-request-id');
    const line = await listener.waitFor((l) => l.event === 'http.request' && l.requestId === requestId, 'the request line');
    assertCommonFields(line, 'rest');
    assert.deepEqual(
      { method: line.method, route: line.route, status: line.status, userId: line.userId },
      { method: 'GET', route: '/users/{user_id}', status: 200, userId: admin.userId },
    );
    assert.equal(typeof line.latencyMs, 'number');
    assert.equal(listener.matching((l) => l.requestId === requestId && l.event === 'http.request').length, 1);
    assert.equal(JSON.stringify(listener.lines).includes(admin.identity.email), false);
    assert.equal(JSON.stringify(listener.lines).includes(admin.identity.uid), false);
  });

  it('When an admin changes users, experiments and associations, then each change is an audit line with actor, target and request id', async () => {
    const scientist = await createScientist(app, admin, 'S1');
    const created = await listener.waitFor((l) => l.event === 'audit.user.create' && l.targetUserId === 'S1', 'audit.user.create');
    assertCommonFields(created, 'audit');
    assert.equal(created.actorId, admin.userId);
    assert.deepEqual(
      { ...(created.user as object), createdAt: 'ISO', updatedAt: 'ISO' },
      { userId: 'S1', name: '***', username: '***', email: '***', role: 'SCIENTIST', createdAt: 'ISO', updatedAt: 'ISO', erasedAt: null },
    );
    assert.match(String(created.requestId), /^[0-9a-f-]{36}$/);

    const calls: [string, string, unknown?][] = [
      ['PUT', '/users/S1', { name: 'Ada L.', username: scientist.identity.uid, email: scientist.identity.email, role: 'SCIENTIST' }],
      ['POST', '/experiments', { experiment_id: 'EXP-LOG', name: 'Logged', description: 'x' }],
      ['PUT', '/experiments/EXP-LOG', { name: 'Logged again', description: 'y' }],
      ['POST', '/experiments/EXP-LOG/users', { user_id: 'S1' }],
      ['DELETE', '/experiments/EXP-LOG/users/S1'],
      ['DELETE', '/experiments/EXP-LOG'],
      ['DELETE', '/users/S1'],
    ];
    const requestIds: string[] = [];
    for (const [method, path, body] of calls) {
      const response = await app.api.request(method, path, { token: admin.token, body });
      assert.ok(response.status < 300, `${method} ${path}: ${response.text}`);
      requestIds.push(response.headers.get('x-request-id')!);
    }
    const expected = [
      ['audit.user.update', { targetUserId: 'S1' }],
      ['audit.experiment.create', { targetExperimentId: 'EXP-LOG' }],
      ['audit.experiment.update', { targetExperimentId: 'EXP-LOG' }],
      ['audit.association.create', { targetExperimentId: 'EXP-LOG', targetUserId: 'S1' }],
      ['audit.association.delete', { targetExperimentId: 'EXP-LOG', targetUserId: 'S1' }],
      ['audit.experiment.delete', { targetExperimentId: 'EXP-LOG', force: false }],
      ['audit.user.erase', { targetUserId: 'S1' }],
    ] as const;
    for (const [i, [event, target]] of expected.entries()) {
      const line = await listener.waitFor((l) => l.event === event && l.requestId === requestIds[i], event);
      assert.equal(line.actorId, admin.userId, event);
      for (const [field, value] of Object.entries(target)) assert.equal(line[field], value, `${event} ${field}`);
    }
    const update = listener.matching(byEvent('audit.user.update'))[0];
    assert.deepEqual([(update.user as LogLine).name, (update.user as LogLine).email], ['***', '***']);
  });

  it('When authentication fails, then a line gives the reason and never the token', async () => {
    const token = 'not.a.token';
    const stranger = await signUp('stranger');
    assert.equal((await app.api.get('/me', { token })).status, 401);
    assert.equal((await app.api.get('/me', { token: stranger.idToken })).status, 403);
    const failures = await eventually(() => listener.matching(byEvent('auth.failure')).length >= 2, 5_000, 'two auth.failure lines').then(
      () => listener.matching(byEvent('auth.failure')),
    );
    for (const line of failures) {
      assertCommonFields(line, 'rest', 'warn');
      assert.equal(typeof line.reason, 'string');
    }
    assert.equal(failures.length, 2);
    assert.equal(failures.filter((l) => l.reason === 'not-a-user').length, 1);
    const all = JSON.stringify(listener.lines);
    assert.equal(all.includes(stranger.idToken), false);
    assert.equal(all.includes(stranger.uid), false);
  });

  it('When messages are ingested, then one summary line per batch, and one line per rejected message with its kind', async () => {
    await app.api.post('/experiments', { experiment_id: 'EXP-ING', name: 'n', description: 'd' }, { token: admin.token });
    const amqp = await AmqpClient.connect(app.config);
    try {
      await amqp.publish([
        { experiment_id: 'EXP-ING', sensor: 't', value: 1, timestamp: 1_000 },
        'not json',
        { experiment_id: 'NOPE', sensor: 't', value: 1, timestamp: 1_000 },
      ]);
    } finally {
      await amqp.close();
    }
    await eventually(
      () => listener.matching(byEvent('ingest.batch')).reduce((n, l) => n + Number(l.messages), 0) >= 3,
      10_000,
      'batch lines for 3 messages',
    );
    const batches = listener.matching(byEvent('ingest.batch'));
    for (const line of batches) {
      assertCommonFields(line, 'ingest');
      for (const field of ['messages', 'stored', 'rejected', 'measures', 'latencyMs']) assert.equal(typeof line[field], 'number', field);
    }
    assert.equal(batches.reduce((n, l) => n + Number(l.stored), 0), 1);
    assert.equal(batches.reduce((n, l) => n + Number(l.rejected), 0), 2);
    const kinds = listener.matching(byEvent('ingest.rejected')).map((l) => l.rejectKind).sort();
    assert.deepEqual(kinds, ['invalid_json', 'unknown_experiment']);
  });
});

describe('Logging: faceted personal data under concurrent requests', () => {
  it('When many requests read and change users at once, then every response shows the real values and every log line ***', async () => {
    const listener = await LogstashListener.start();
    const console = new ConsoleLines();
    const app = await startTestApp(
      { LOGSTASH_ENABLED: 'true', LOGSTASH_HOST: '127.0.0.1', LOGSTASH_PORT: String(listener.port), LOG_LEVEL: 'info' },
      undefined,
      { console },
    );
    try {
      const admin = await createAdmin(app);
      const people = await Promise.all(Array.from({ length: 12 }, (_, i) => createScientist(app, admin, `S${i}`)));
      const profile = (p: Person, round: number) => ({
        name: `Person ${p.userId} round ${round}`,
        username: p.identity.uid,
        email: p.identity.email,
        role: 'SCIENTIST',
      });
      // 240 requests in flight together: reads (responses with personal data) interleaved with
      // updates (audit lines logging the same users).
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, round) =>
          people.flatMap((p) => [
            app.api.get(`/users/${p.userId}`, { token: admin.token }).then((r) => ({ p, r })),
            app.api.put(`/users/${p.userId}`, profile(p, round), { token: admin.token }).then((r) => ({ p, r })),
          ]),
        ).flat(),
      );
      for (const { p, r } of responses) {
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.email, p.identity.email);
        assert.equal(r.body.username, p.identity.uid);
        assert.match(r.body.name, /^(Person S\d+ round \d+|Scientist S\d+)$/);
      }
      await eventually(() => listener.matching((l) => l.event === 'audit.user.update').length === 240, 10_000, '240 audit lines');

      const secrets = people.flatMap((p) => [p.identity.email, p.identity.uid]).concat(['Person S', 'Scientist S']);
      const logstash = listener.lines.map((l) => JSON.stringify(l));
      for (const line of [...logstash, ...console.lines]) {
        const leaked = secrets.find((s) => line.includes(s));
        assert.equal(leaked, undefined, `personal data in a log line: ${line}`);
      }
      for (const line of listener.matching((l) => l.event === 'audit.user.update')) {
        assert.deepEqual([(line.user as LogLine).name, (line.user as LogLine).email, (line.user as LogLine).username], ['***', '***', '***']);
      }
      const consoleAudits = console.lines.filter((l) => l.includes('audit.user.update'));
      assert.equal(consoleAudits.length, 240);
      for (const line of consoleAudits) assert.match(line, /"email":"\*\*\*"/);
    } finally {
      await app.stop();
      await listener.stop();
    }
  });
});

describe('Logging: Logstash outages', () => {
  it('When Logstash is absent at start, then the app serves, and the lines arrive once Logstash is up', async () => {
    const port = await freePort();
    const app = await startTestApp({ LOGSTASH_ENABLED: 'true', LOGSTASH_HOST: '127.0.0.1', LOGSTASH_PORT: String(port), LOG_LEVEL: 'info' });
    let listener: LogstashListener | undefined;
    try {
      assert.equal(await metric(app, 'mymonit_logstash_connected'), 0);
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const response = await app.api.get('/health');
        assert.equal(response.status, 200);
        ids.push(response.headers.get('x-request-id')!);
      }
      listener = await LogstashListener.start(port);
      await eventually(() => ids.every((id) => listener!.lines.some((l) => l.requestId === id)), 15_000, 'the 20 request lines');
      assert.ok(listener.lines.some((l) => l.event === 'app.start'), 'the start-up line, logged before Logstash was up');
      await eventually(async () => (await metric(app, 'mymonit_logstash_connected')) === 1, 5_000, 'connected in /metrics');
      assert.equal(await metric(app, 'mymonit_log_lines_dropped_total'), 0);
    } finally {
      await app.stop();
      await listener?.stop();
    }
  });

  it('When Logstash dies mid-run and comes back, then the app keeps serving and the lines logged meanwhile arrive', async () => {
    const listener = await LogstashListener.start();
    const app = await startTestApp({ LOGSTASH_ENABLED: 'true', LOGSTASH_HOST: '127.0.0.1', LOGSTASH_PORT: String(listener.port), LOG_LEVEL: 'info' });
    try {
      await listener.waitFor((l) => l.event === 'app.start', 'the start-up line');
      await listener.stop();
      await eventually(async () => (await metric(app, 'mymonit_logstash_connected')) === 0, 5_000, 'disconnected in /metrics');
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const response = await app.api.get('/health');
        assert.equal(response.status, 200);
        ids.push(response.headers.get('x-request-id')!);
      }
      await listener.start();
      await eventually(() => ids.every((id) => listener.lines.some((l) => l.requestId === id)), 15_000, 'the lines of the outage');
      const lost = listener.matching((l) => l.event === 'logstash.disconnected');
      assert.equal(lost.length, 1, 'one line per outage');
      await listener.waitFor((l) => l.event === 'logstash.connected', 'the reconnection line');
    } finally {
      await app.stop();
      await listener.stop();
    }
  });

  it('When an outage outlasts the buffer, then the oldest lines are dropped and counted exactly, and the newest arrive', async () => {
    const port = await freePort();
    const console = new ConsoleLines();
    const app = await startTestApp(
      { LOGSTASH_ENABLED: 'true', LOGSTASH_HOST: '127.0.0.1', LOGSTASH_PORT: String(port), LOG_LEVEL: 'info', LOGSTASH_BUFFER_LINES: '100' },
      undefined,
      { console },
    );
    const listener = await LogstashListener.start(await freePort());
    try {
      const ids: string[] = [];
      for (let i = 0; i < 150; i++) ids.push((await app.api.get('/health')).headers.get('x-request-id')!);
      const response = await app.api.get('/metrics');
      const value = (name: string) => metricIn(response.text, name);
      assert.equal(value('mymonit_log_lines_buffered'), 100);
      // Every line the console shows reached the shipper: all but the 100 it holds were dropped
      // (the line of the /metrics request itself is logged once its response is sent).
      const metricsRequest = response.headers.get('x-request-id')!;
      const before = console.lines.filter((line) => !line.includes(metricsRequest));
      assert.equal(value('mymonit_log_lines_dropped_total'), before.length - 100);

      await listener.stop();
      listener.port = port;
      await listener.start();
      await eventually(() => listener.lines.length >= 100, 15_000, 'the 100 buffered lines');
      const received = listener.lines.slice(0, 100).map((l) => l.requestId);
      assert.ok(received.includes(ids.at(-1)), 'the newest line arrives');
      assert.equal(received.includes(ids[0]), false, 'the oldest line was dropped');
    } finally {
      await app.stop();
      await listener.stop();
    }
  });
});
