import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import amqplib from 'amqplib';
import mysql from 'mysql2/promise';
import { assertProblem } from '../support/api-client';
import { AmqpClient, eventually, rabbitManagement } from '../support/amqp';
import { ConsoleLines } from '../support/log-capture';
import { metricIn, scrapeMetric } from '../support/metrics';
import { readEvents } from '../support/sse';
import { loadConfig } from '../../src/config';
import { prepareDatabase, startTestApp, storedMeasures, testEnvironment, type TestApp } from '../support/test-app';
import { associate, createAdmin, createExperiment, createScientist, type Person } from '../support/world';

const T = Date.parse('2026-11-23T10:00:00.000Z');
const measure = (sensor: string, i: number, extra: Record<string, unknown> = {}) => ({
  experiment_id: 'ING',
  sensor,
  value: i + 0.5,
  unit: 'K',
  timestamp: T + i,
  ...extra,
});

/** An app consuming a queue of its own, ready, with an admin, the experiment ING, and a client that publishes to it. */
async function startIngestingApp(overrides: Record<string, string> = {}): Promise<{ app: TestApp; admin: Person; amqp: AmqpClient }> {
  const app = await startTestApp(overrides);
  const admin = await createAdmin(app);
  await createExperiment(app, admin, 'ING');
  const amqp = await AmqpClient.connect(app.config);
  await eventually(async () => (await app.api.get('/ready')).status === 200, 10_000, 'ready');
  return { app, admin, amqp };
}

/** The measures of one of ING's sensors, read over REST. */
async function countMeasures(app: TestApp, admin: Person, sensor: string): Promise<number> {
  const response = await app.api.get(`/experiments/ING/measures?sensor=${sensor}&limit=10000`, { token: admin.token });
  return response.body.items.length as number;
}

describe('Ingestion over AMQP', () => {
  let app: TestApp;
  let admin: Person;
  let amqp: AmqpClient;
  const count = (sensor: string) => countMeasures(app, admin, sensor);

  before(async () => {
    ({ app, admin, amqp } = await startIngestingApp());
  });
  after(async () => {
    await amqp?.close();
    await app?.stop();
  });

  it('When single and batch messages are published, then every measure is queryable over REST', async () => {
    await amqp.publish([
      measure('single', 1),
      Array.from({ length: 100 }, (_, i) => measure('batch', i)),
      measure('single', 2, { timestamp: new Date(T + 2).toISOString(), tags: { run: '7' } }),
    ]);
    await eventually(async () => (await count('single')) === 2 && (await count('batch')) === 100, 10_000, 'measures stored');
    const response = await app.api.get('/experiments/ING/measures?sensor=single&order=asc', { token: admin.token });
    assert.deepEqual(response.body.items[1], {
      experiment_id: 'ING',
      sensor: 'single',
      timestamp: new Date(T + 2).toISOString(),
      value: 2.5,
      unit: 'K',
      tags: { run: '7' },
    });
  });

  it('When the same key is published again, then the last value wins and nothing is duplicated', async () => {
    await amqp.publish([measure('dup', 1, { value: 1 }), measure('dup', 1, { value: 2 }), [measure('dup', 1, { value: 3 })]]);
    await eventually(async () => {
      const items = (await app.api.get('/experiments/ING/measures?sensor=dup', { token: admin.token })).body.items;
      return items.length === 1 && items[0].value === 3;
    }, 10_000, 'last write');
  });

  it('When batches written at once rewrite the same keys, then the last value published still wins', async () => {
    // 20 rounds over the same 50 keys, one message each: 1,000 messages make two
    // batches of 500 that share every key, so the second must wait for the first.
    const rounds = Array.from({ length: 20 }, (_, round) =>
      Array.from({ length: 50 }, (_, k) => measure(`rewrite-${k}`, 0, { value: round })),
    ).flat();
    await amqp.publish(rounds);
    await eventually(async () => {
      const items = (await app.api.get('/experiments/ING/measures?limit=1000', { token: admin.token })).body.items.filter(
        (m: { sensor: string }) => m.sensor.startsWith('rewrite-'),
      );
      return items.length === 50 && items.every((m: { value: number }) => m.value === 19);
    }, 15_000, 'every key at the last round');
  });

  it('When poison messages come between valid ones, then each is dead-lettered with its reason and the valid ones are stored', async () => {
    const poison: [string | Buffer | object, RegExp][] = [
      ['{"experiment_id": "ING", ', /^not valid JSON/],
      [measure('p', 1, { value: 'hot' }), /^value: /],
      [measure('p', 1, { colour: 'red' }), /colour/],
      ['{"experiment_id":"ING","sensor":"p","value":1e999,"timestamp":0}', /^value: /],
      [measure('p', 1, { unit: 'x'.repeat(17) }), /^unit: /],
      [measure('p', 1, { sensor: 'bad sensor' }), /^sensor: /],
      [[measure('p', 1), measure('p', 2, { timestamp: 'yesterday' })], /^\[1\]\.timestamp: /],
      [[measure('p', 1), measure('p', 2, { experiment_id: 'NO-SUCH' })], /^\[1\]\.experiment_id: unknown experiment NO-SUCH/],
      [measure('p', 1, { experiment_id: 'NO-SUCH' }), /^experiment_id: unknown experiment NO-SUCH/],
      [[], /^\(root\): /],
      [Buffer.alloc(16 * 1024 * 1024 + 1, 32), /larger than 16777216/],
      // "°C" in Latin-1: decoding it as UTF-8 would store "\ufffdC".
      [Buffer.from('{"experiment_id":"ING","sensor":"p","value":1,"unit":"\u00b0C","timestamp":0}', 'latin1'), /^not valid JSON: the body is not UTF-8/],
      // A lone surrogate, which no JSON column takes (MySQL) or passes its check (MariaDB).
      ['{"experiment_id":"ING","sensor":"p","value":1,"timestamp":0,"tags":{"run":"\\ud800"}}', /^tags\.run: must be well-formed Unicode/],
    ];
    const bodies: (string | Buffer | object)[] = [];
    poison.forEach(([body], i) => bodies.push(measure('around', i), body));
    bodies.push(measure('around', poison.length));
    await amqp.publish(bodies);
    await eventually(async () => (await count('around')) === poison.length + 1, 15_000, 'valid messages stored');
    let dead: Awaited<ReturnType<AmqpClient['drainDeadLetters']>> = [];
    await eventually(async () => {
      dead.push(...(await amqp.drainDeadLetters()));
      return dead.length >= poison.length;
    }, 15_000, 'dead letters');
    dead = dead.sort((a, b) => bodies.findIndex((x) => same(x, a.content)) - bodies.findIndex((x) => same(x, b.content)));
    assert.equal(dead.length, poison.length);
    poison.forEach(([body, reason], i) => {
      const letter = dead[i];
      assert.ok(same(body, letter.content), `dead letter ${i} carries the original body`);
      assert.match(String(letter.properties.headers?.['x-mymonit-error']), reason);
    });
    assert.equal(await count('p'), 0, 'no measure of a refused message is stored');
    // Counted once the batch is settled, just after its dead letters are confirmed (and so may be read).
    await eventually(
      async () => (await scrapeMetric(app.baseUrl, 'mymonit_ingest_messages_total', { outcome: 'rejected' })) === poison.length,
      5_000,
      `${poison.length} messages counted as rejected`,
    );
  });

  it('When a refused message carries a user id and an expiry of its publisher, then its dead-lettered copy keeps neither and the queue flows on', { timeout: 30_000 }, async () => {
    // An instrument's own broker account: RabbitMQ checks a message's user id against the publisher's.
    const user = `instrument-${randomBytes(4).toString('hex')}`;
    assert.ok((await rabbitManagement(`users/${user}`, 'PUT', { password: 'pw', tags: '' })).ok, 'the management API creates the user');
    assert.ok((await rabbitManagement(`permissions/%2F/${user}`, 'PUT', { configure: '.*', write: '.*', read: '.*' })).ok);
    const connection = await amqplib.connect(app.config.rabbit.url.replace(/\/\/[^@]*@/, `//${user}:pw@`));
    try {
      const channel = await connection.createConfirmChannel();
      const { exchange, routingKey } = amqp.topology;
      const publish = (body: object, options: amqplib.Options.Publish = {}) =>
        channel.publish(exchange, routingKey, Buffer.from(JSON.stringify(body)), { persistent: true, ...options });
      publish(measure('own-user', 1, { value: 'hot' }), { userId: user, expiration: '600000', messageId: 'm-1', appId: 'daq' });
      publish(measure('after-own-user', 2));
      await channel.waitForConfirms();
    } finally {
      await connection.close();
      await rabbitManagement(`users/${user}`, 'DELETE');
    }
    await eventually(async () => (await count('after-own-user')) === 1, 15_000, 'the valid message after it stored');
    const dead: Awaited<ReturnType<AmqpClient['drainDeadLetters']>> = [];
    await eventually(async () => {
      dead.push(...(await amqp.drainDeadLetters()));
      return dead.length >= 1;
    }, 15_000, 'the dead letter');
    await new Promise((resolve) => setTimeout(resolve, 500));
    dead.push(...(await amqp.drainDeadLetters()));
    assert.equal(dead.length, 1, 'dead-lettered once, not again and again');
    const { properties } = dead[0];
    assert.match(String(properties.headers?.['x-mymonit-error']), /^value: /);
    assert.equal(properties.userId, undefined);
    assert.equal(properties.expiration, undefined);
    assert.deepEqual([properties.messageId, properties.appId, properties.deliveryMode], ['m-1', 'daq', 2], 'what identifies it is kept');
  });

  it('When a valid message makes more SQL than the server takes in one packet, then it is stored whole, not dead-lettered', { timeout: 60_000 }, async () => {
    // Tags of quotes: escaped once by JSON and again by SQL, about twice the message's size.
    const tags = Object.fromEntries(Array.from({ length: 16 }, (_, k) => [`k${k}`, '"'.repeat(200)]));
    const message = Array.from({ length: 2_300 }, (_, i) => measure('tagged', i, { tags }));
    const bytes = Buffer.byteLength(JSON.stringify(message));
    const connection = await mysql.createConnection({ ...app.config.db });
    const [[{ packet }]] = (await connection.query('SELECT @@max_allowed_packet AS packet')) as unknown as [[{ packet: number }]];
    await connection.end();
    assert.ok(bytes < 16 * 1024 * 1024, `the message (${bytes} bytes) is within the 16 MiB limit`);
    if (packet <= 16 * 1024 * 1024) assert.ok(2 * bytes > packet, 'its SQL would not fit in one packet');
    await amqp.publish([message]);
    await eventually(async () => (await count('tagged')) === 2_300, 45_000, 'the message stored');
    assert.deepEqual(await amqp.drainDeadLetters(), []);
    const stored = await app.api.get('/experiments/ING/measures?sensor=tagged&limit=1', { token: admin.token });
    assert.deepEqual(stored.body.items[0].tags, tags);
  });

  it('When MySQL refuses writes for a reason of its own (the measures table gone a while), then nothing is dead-lettered and all is stored when it is back', async () => {
    const { host, port, user, password, database } = app.config.db;
    const db = await mysql.createConnection({ host, port, user, password, database });
    const deadBefore = await amqp.messageCount(amqp.topology.deadLetterQueue);
    await db.query('RENAME TABLE measures TO measures_away');
    try {
      await amqp.publish(Array.from({ length: 30 }, (_, i) => measure('away', i)));
      const retried = /mymonit_ingest_store_retries_total\{reason="ER_NO_SUCH_TABLE"[^}]*\} [1-9]/;
      await eventually(async () => retried.test((await app.api.get('/metrics')).text), 10_000, 'the refused batch retried');
    } finally {
      await db.query('RENAME TABLE measures_away TO measures');
      await db.end();
    }
    await eventually(async () => (await count('away')) === 30, 15_000, 'every measure stored once the table is back');
    assert.equal(await amqp.messageCount(amqp.topology.deadLetterQueue), deadBefore, 'no message dead-lettered');
  });

  it('When MySQL refuses one measure of an array for its content (a check constraint), then the message is dead-lettered naming that measure, nothing of it stored, the messages around it stored', { timeout: 30_000 }, async () => {
    const { host, port, user, password, database } = app.config.db;
    const db = await mysql.createConnection({ host, port, user, password, database });
    // As a DBA might add: valid for the schema, refused by the table.
    await db.query('ALTER TABLE measures ADD CONSTRAINT test_refused_value CHECK (value <> -404.5)');
    try {
      const refused = [measure('checked-array', 1), measure('checked-array', 2), measure('checked-array', 3, { value: -404.5 }), measure('checked-array', 4)];
      await amqp.publish([measure('checked-around', 1), refused, measure('checked-around', 2)]);
      const dead: Awaited<ReturnType<AmqpClient['drainDeadLetters']>> = [];
      await eventually(async () => {
        dead.push(...(await amqp.drainDeadLetters()));
        return dead.length >= 1;
      }, 15_000, 'the refused message dead-lettered');
      assert.equal(dead.length, 1);
      assert.deepEqual(JSON.parse(dead[0].content.toString()), refused);
      assert.match(String(dead[0].properties.headers?.['x-mymonit-error']), /^\[2\]: storage refused the measure: .*test_refused_value.* \(error (4025|3819), SQLSTATE (23000|HY000)\)$/);
      await eventually(async () => (await count('checked-around')) === 2, 10_000, 'the messages around it stored');
      assert.equal(await count('checked-array'), 0, 'a message is atomic: none of its measures stored');
      const [[{ sensors }]] = (await db.query("SELECT COUNT(*) AS sensors FROM sensors WHERE sensor = 'checked-array'")) as unknown as [[{ sensors: number }]];
      assert.equal(Number(sensors), 0, 'finding the measure created no sensor');
    } finally {
      await db.query('ALTER TABLE measures DROP CONSTRAINT test_refused_value');
      await db.end();
    }
  });

  it('When the dead-letter queue was deleted by hand, then a refused message waits for it to be declared again and lands there', { timeout: 60_000 }, async () => {
    const rejected = async () => {
      const line = /mymonit_ingest_messages_total\{[^}]*outcome="rejected"[^}]*\} (\d+)/.exec((await app.api.get('/metrics')).text);
      return Number(line?.[1] ?? 0);
    };
    const before = await rejected();
    await amqp.channel.deleteQueue(amqp.topology.deadLetterQueue);
    await amqp.publish([measure('no-dlq', 1, { value: 'hot' }), measure('no-dlq', 2)]);
    // Counted once the broker has put it in a queue: the first attempt came back unroutable.
    await eventually(async () => (await rejected()) === before + 1, 15_000, 'the refused message dead-lettered');
    const dead = await amqp.drainDeadLetters();
    assert.equal(dead.length, 1);
    assert.ok(same(measure('no-dlq', 1, { value: 'hot' }), dead[0].content));
    assert.match(String(dead[0].properties.headers?.['x-mymonit-error']), /^value: /);
    assert.equal(await count('no-dlq'), 1, 'the valid message beside it is stored');
  });

  it('When the measures queue was deleted by hand, then HTTP ingestion answers 503 rather than 202 for a message the broker kept nowhere', { timeout: 60_000 }, async () => {
    const body = [measure('no-queue', 1)];
    await amqp.channel.deleteQueue(amqp.topology.queue);
    const refused = await app.api.post('/experiments/ING/measures', body, { token: admin.token });
    assertProblem(refused, 503);
    assert.match(refused.body.detail, /routed the message to no queue/);
    // The app declares its queues again and consumes from them: the client's retry is stored.
    await eventually(async () => (await app.api.post('/experiments/ING/measures', body, { token: admin.token })).status === 202, 15_000, '202 again');
    await eventually(async () => (await count('no-queue')) === 1, 15_000, 'the retried message stored');
  });

  it('When nobody watches an experiment live, then storing it publishes no live events', async () => {
    const { queue } = await amqp.channel.assertQueue('', { exclusive: true });
    await amqp.channel.bindQueue(queue, amqp.topology.storedExchange, 'ING');
    await amqp.publish(Array.from({ length: 20 }, (_, i) => measure('quiet', i)));
    await eventually(async () => (await count('quiet')) === 20, 10_000, 'measures stored');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await amqp.messageCount(queue), 0);
    await amqp.channel.deleteQueue(queue);
  });

  it('When measures are posted over HTTP, then 202 after the broker confirmed, and they are stored', async () => {
    const scientist = await createScientist(app, admin, 'S-HTTP');
    await associate(app, admin, 'ING', scientist.userId);
    const body = Array.from({ length: 50 }, (_, i) => measure('http', i));
    const response = await app.api.post('/experiments/ING/measures', body, { token: scientist.token });
    assert.equal(response.status, 202);
    assert.deepEqual(response.body, { accepted: 50 });
    await eventually(async () => (await count('http')) === 50, 10_000, 'HTTP measures stored');
  });

  it('When an HTTP body is invalid or names another experiment, then 400 names the measure and nothing is published', async () => {
    const bad = await app.api.post('/experiments/ING/measures', [measure('h', 1), measure('h', 2, { value: 'x' })], {
      token: admin.token,
    });
    assertProblem(bad, 400, ['body[1].value']);
    const other = await app.api.post('/experiments/ING/measures', [measure('h', 1), measure('h', 2, { experiment_id: 'OTHER' })], {
      token: admin.token,
    });
    assertProblem(other, 400, ['body[1].experiment_id']);
    const single = await app.api.post('/experiments/ING/measures', { ...measure('h', 1), sensor: '' }, { token: admin.token });
    assertProblem(single, 400, ['body.sensor']);
    const lone = await app.api.post('/experiments/ING/measures', [measure('h', 3, { tags: { run: '\ud800' } })], { token: admin.token });
    assertProblem(lone, 400, ['body[0].tags.run']);
    // "°C" in Latin-1: parsed as UTF-8 it would be stored as "\ufffdC".
    const latin1 = await fetch(`${app.baseUrl}/experiments/ING/measures`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify(measure('h', 4, { unit: '\u00b0C' })), 'latin1'),
    });
    assert.equal(latin1.status, 400);
    assert.equal(latin1.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.deepEqual(((await latin1.json()) as { errors: unknown }).errors, [{ field: 'body', message: 'not valid UTF-8' }]);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await count('h'), 0);
  });
});

describe('Two app instances', () => {
  let first: TestApp;
  let second: TestApp;
  let admin: Person;
  let amqp: AmqpClient;

  before(async () => {
    first = await startTestApp();
    second = await startTestApp({}, first);
    admin = await createAdmin(first);
    await createExperiment(first, admin, 'ING');
    amqp = await AmqpClient.connect(first.config);
  });
  after(async () => {
    await amqp?.close();
    await second?.stop();
    await first?.stop();
  });

  const storedBy = async (app: TestApp) => {
    const text = (await app.api.get('/metrics')).text;
    return Number(/mymonit_ingest_measures_total\{[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
  };

  it('When both consume the same queue, then both store and the result is exact', async () => {
    const messages = Array.from({ length: 3000 }, (_, i) => measure(`c${i % 7}`, i));
    await amqp.publish(messages);
    await eventually(async () => (await storedBy(first)) + (await storedBy(second)) >= 3000, 20_000, 'all stored');
    assert.ok((await storedBy(first)) > 0 && (await storedBy(second)) > 0, 'both instances consumed');
    const sensors = (await first.api.get('/experiments/ING/sensors', { token: admin.token })).body.items;
    assert.equal(sensors.reduce((sum: number, s: { count: number }) => sum + s.count, 0), 3000);
    assert.equal(await amqp.messageCount(amqp.topology.queue), 0);
  });

  it('When a client streams from one instance, then it receives the measures that either instance stored', async () => {
    const before = [await storedBy(first), await storedBy(second)];
    const abort = new AbortController();
    const response = await fetch(`${second.baseUrl}/experiments/ING/measures/stream?sensor=live`, {
      headers: { authorization: `Bearer ${admin.token}` },
      signal: abort.signal,
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type')!, /^text\/event-stream/);
    const events = readEvents(response.body!);
    assert.equal((await events.next()).value?.event, 'ready');
    const received: { sensor: string; value: number }[] = [];
    const collecting = (async () => {
      for await (const event of events) {
        if (event.event === 'measures') received.push(...JSON.parse(event.data));
        if (received.length >= 200) break;
      }
    })();
    await amqp.publish(Array.from({ length: 200 }, (_, i) => [measure('live', i), measure('other', i)]));
    await eventually(() => received.length >= 200, 15_000, 'live measures');
    abort.abort();
    await collecting.catch(() => undefined);
    assert.equal(received.length, 200);
    assert.ok(received.every((m) => m.sensor === 'live'));
    assert.deepEqual(new Set(received.map((m) => m.value)).size, 200);
    assert.ok((await storedBy(first)) > before[0] && (await storedBy(second)) > before[1], 'both instances stored some');
  });
});

function same(body: string | Buffer | object, content: Buffer): boolean {
  const expected = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return expected.equals(content);
}

describe('A measures queue that exists with other settings', () => {
  const queue = `measures.test.mismatch.${randomBytes(4).toString('hex')}`;
  const console = new ConsoleLines();
  let app: TestApp;
  let raw: amqplib.ChannelModel;

  before(async () => {
    // As left by another deployment: the same name, without the dead-letter arguments.
    raw = await amqplib.connect(loadConfig(testEnvironment()).rabbit.url);
    const channel = await raw.createChannel();
    await channel.assertQueue(queue, { durable: true });
    await channel.close();
    app = await startTestApp({ RABBIT_QUEUE: queue, LOG_LEVEL: 'info' }, undefined, { console });
  });
  after(async () => {
    await app?.stop();
    await raw?.close();
  });

  it('When the broker refuses the declaration, then /ready says RabbitMQ is down, the log says why with a hint, the setup is tried every 10 s (not faster), and once the queue is removed the app consumes by itself', { timeout: 90_000 }, async () => {
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const notReady = await app.api.get('/ready');
    assert.equal(notReady.status, 503);
    assert.deepEqual(notReady.body.checks, { mysql: 'up', rabbitmq: 'down' });
    assert.equal((await app.api.get('/health')).status, 200, 'the API serves meanwhile');
    const refusals = () => console.lines.filter((line) => /cannot set up a channel/.test(line));
    assert.match(refusals()[0] ?? '', /PRECONDITION_FAILED.*"hint":"a queue or exchange exists with other settings/);
    const seen = refusals().length;
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    // Once per attempt (the publisher's and the consumer's setup both declare the queue): not every second.
    assert.ok(refusals().length <= seen + 2, `${refusals().length - seen} more refusals within 5 s`);
    const channel = await raw.createChannel();
    await channel.deleteQueue(queue);
    await channel.close();
    await eventually(async () => (await app.api.get('/ready')).status === 200, 30_000, '/ready 200 once the queue is declared again');
    const admin = await createAdmin(app);
    await createExperiment(app, admin, 'ING');
    const amqp = await AmqpClient.connect(app.config);
    try {
      await amqp.publish([measure('after-mismatch', 1)]);
      await eventually(
        async () => (await app.api.get('/experiments/ING/measures?sensor=after-mismatch', { token: admin.token })).body.items.length === 1,
        10_000,
        'the measure stored',
      );
    } finally {
      await amqp.close();
    }
  });
});

describe('Ingestion of large messages within a memory budget', () => {
  const budgetMb = 1;
  let app: TestApp;
  let admin: Person;
  let amqp: AmqpClient;
  /** A message of 3,000 measures (~300 kB): a few of them fill the budget. */
  const large = (n: number) => Array.from({ length: 3_000 }, (_, i) => measure(`large-${n % 4}`, n * 3_000 + i, { tags: { run: 'r' } }));
  const gauges = async (of: TestApp = app) => {
    const text = (await of.api.get('/metrics')).text;
    return { unacked: metricIn(text, 'mymonit_ingest_unacked_bytes'), prefetch: metricIn(text, 'mymonit_ingest_prefetch') };
  };
  /** Samples `of`'s gauges every 5 ms (each sample also given to `onSample`); the function returned stops and gives the peak of held bytes. */
  const sampleHeldBytes = (of: TestApp = app, onSample?: (sample: { unacked: number; prefetch: number }) => void) => {
    let sampling = true;
    let peak = 0;
    const sampler = (async () => {
      while (sampling) {
        const sample = await gauges(of);
        onSample?.(sample);
        peak = Math.max(peak, sample.unacked);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    return async () => {
      sampling = false;
      await sampler;
      return peak;
    };
  };
  /** Measures of the large-* sensors stored, from the sensor list's counts. */
  const stored = async () => {
    const response = await app.api.get('/experiments/ING/sensors', { token: admin.token });
    const sensors = (response.body as { items: { sensor: string; count: number }[] }).items;
    return sensors.filter((x) => x.sensor.startsWith('large-')).reduce((sum, x) => sum + x.count, 0);
  };

  const count = (sensor: string) => countMeasures(app, admin, sensor);

  before(async () => {
    ({ app, admin, amqp } = await startIngestingApp({ INGEST_MAX_UNACKED_MB: String(budgetMb) }));
  });
  after(async () => {
    await amqp?.close();
    await app?.stop();
  });

  it('When messages are large, then the app holds no more than its budget and a message unacknowledged (the rest waits in RabbitMQ), stores all, and takes small ones at full prefetch', { timeout: 120_000 }, async () => {
    assert.equal((await gauges()).prefetch, 1, 'before any message, messages are assumed as large as allowed (16 MiB)');
    const size = Buffer.byteLength(JSON.stringify(large(0)));
    // The held bytes, sampled from the first message on.
    const heldPeak = sampleHeldBytes();
    await amqp.publish(Array.from({ length: 10 }, (_, n) => large(n)));
    await eventually(async () => (await stored()) === 30_000, 30_000, 'the first 10 stored');
    const fit = Math.floor((budgetMb * 1024 * 1024) / size);
    await eventually(async () => (await gauges()).prefetch === fit, 10_000, `prefetch ${fit}, the messages that fit`);
    await amqp.publish(Array.from({ length: 40 }, (_, n) => large(10 + n)));
    await eventually(async () => (await stored()) === 150_000, 60_000, 'all 50 stored');
    const peak = await heldPeak();
    console.log(`${size} bytes a message, budget ${budgetMb} MiB: prefetch ${fit}, unacknowledged bytes at most ${peak}`);
    assert.ok(peak > 0, 'the sampler saw messages held');
    // At worst, a raise of the prefetch (allowed while half the budget or less is held) adds a
    // full window of the new consumer to the old one's deliveries; a message a little larger
    // than the average can add less than one more.
    const bound = 1.5 * budgetMb * 1024 * 1024 + size;
    assert.ok(peak <= bound, `held ${peak} bytes, more than 1.5 × the ${budgetMb} MiB budget and a message (${bound})`);
    assert.equal(await amqp.messageCount(amqp.topology.deadLetterQueue), 0, 'nothing dead-lettered');

    // Small messages again: the prefetch goes back up.
    await amqp.publish(Array.from({ length: 2_000 }, (_, i) => measure('small-after-large', i)));
    await eventually(async () => (await gauges()).prefetch === 4000, 30_000, 'prefetch back to 4000');
    await eventually(async () => (await count('small-after-large')) === 2_000, 30_000, 'the small ones stored');
  });

  it('When large messages follow small ones taken at full prefetch, then the app hands back to RabbitMQ what arrives far over its budget, and stores all', { timeout: 120_000 }, async () => {
    assert.equal((await gauges()).prefetch, 4000, 'small messages before: full prefetch');
    const size = Buffer.byteLength(JSON.stringify(large(0)));
    const before = await stored();
    const handedBack = async () => metricIn((await app.api.get('/metrics')).text, 'mymonit_ingest_messages_total', { outcome: 'requeued' });
    const handedBackBefore = await handedBack();
    const heldPeak = sampleHeldBytes();
    // The broker sends the large ones into the free prefetch at once, before the app has seen any (30 × 341 kB, ten times the budget).
    await amqp.publish([...Array.from({ length: 500 }, (_, i) => measure('small-before-large', i)), ...Array.from({ length: 30 }, (_, n) => large(100 + n))]);
    await eventually(async () => (await stored()) === before + 90_000, 60_000, 'the 30 large ones stored');
    const peak = await heldPeak();
    const requeued = (await handedBack()) - handedBackBefore;
    console.log(`30 messages of ${size} bytes after small ones, budget ${budgetMb} MiB: held at most ${peak} bytes, ${requeued} handed back`);
    assert.ok(peak <= 2 * budgetMb * 1024 * 1024 + size, `held ${peak} bytes: more than twice the budget and a message`);
    assert.ok(requeued > 0, 'some were handed back');
    assert.equal(await count('small-before-large'), 500);
    assert.equal(await amqp.messageCount(amqp.topology.deadLetterQueue), 0, 'nothing dead-lettered');
  });

  it('When large messages already fill the queue as an instance starts, then it takes a few, not the whole queue', { timeout: 120_000 }, async () => {
    const config = loadConfig(testEnvironment({ INGEST_MAX_UNACKED_MB: String(budgetMb) }));
    await prepareDatabase(config, 'ING', 'Ingestion');
    const client = await AmqpClient.connect(config);
    let starting: TestApp | undefined;
    try {
      await client.publish(Array.from({ length: 20 }, (_, n) => large(n)));
      const size = Buffer.byteLength(JSON.stringify(large(0)));
      starting = await startTestApp({
        DB_DATABASE: config.db.database,
        RABBIT_EXCHANGE: config.rabbit.exchange,
        RABBIT_QUEUE: config.rabbit.queue,
        INGEST_MAX_UNACKED_MB: String(budgetMb),
      });
      let first = Number.NaN;
      const heldPeak = sampleHeldBytes(starting, ({ prefetch }) => {
        if (Number.isNaN(first)) first = prefetch;
      });
      // Storing 60,000 measures takes a while: pushed all at once, the 20 messages (6.8 MB) would be seen held.
      await eventually(async () => (await storedMeasures(config)) === 60_000, 60_000, 'the 20 queued messages stored');
      const peak = await heldPeak();
      console.log(`20 queued messages of ${size} bytes, budget ${budgetMb} MiB: prefetch first seen ${first}, held at most ${peak} bytes`);
      assert.ok(peak <= 1.5 * budgetMb * 1024 * 1024 + size, `held ${peak} bytes of the queue at once`);
    } finally {
      await starting?.stop();
      await client.close();
    }
  });
});
