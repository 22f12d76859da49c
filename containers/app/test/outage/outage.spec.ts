import 'reflect-metadata';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { loadConfig, type AppConfig } from '../../src/config';
import { buildContainer } from '../../src/container';
import { Logging } from '../../src/logging/logging';
import { UserService } from '../../src/services/user.service';
import { StorageConnector } from '../../src/storage/storage-connector';
import { SHUTDOWN_GRACE_MS } from '../../src/rabbit/rabbit-listener';
import { AmqpClient, eventually } from '../support/amqp';
import { startAppProcess, type AppProcess } from '../support/app-process';
import { signUp } from '../support/identities';
import { rememberPersonalData } from '../support/log-capture';
import { scrapeMetric } from '../support/metrics';
import { dropDatabase, prepareDatabase, removeTopology, storedMeasures, testEnvironment } from '../support/test-app';

/**
 * The delivery guarantees under failure (SPEC §3), with the app in a process of
 * its own and the real broker and database stopped and started. These tests
 * stop shared services, so they run alone, after every other test.
 */

const T = Date.parse('2026-11-23T00:00:00.000Z');
const messages = (n: number, offset = 0) =>
  Array.from({ length: n }, (_, i) => ({ experiment_id: 'OUT', sensor: `s${(offset + i) % 50}`, value: i, timestamp: T + offset + i }));

function sh(command: string, ...args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
}

/**
 * The database server the suite runs on, stopped and started by the MySQL
 * outage test: the machine's MariaDB, or the MySQL sandbox of
 * `npm run test:mysql` (scripts/mysql-sandbox.sh), which is what a Compose
 * deployment runs.
 */
const onMySqlSandbox = process.env.TEST_DB_SERVER === 'mysql-sandbox';
const sandboxScript = join(__dirname, '..', '..', 'scripts', 'mysql-sandbox.sh');

async function databaseAnswers(config: AppConfig): Promise<boolean> {
  const { host, port, user, password } = config.db;
  try {
    const connection = await mysql.createConnection({ host, port, user, password, connectTimeout: 2_000 });
    await connection.end();
    return true;
  } catch {
    return false;
  }
}

/** Shuts the server down (the SQL statement works on both servers, over the tests' own connection settings). */
async function stopDatabase(config: AppConfig): Promise<void> {
  const { host, port, user, password } = config.db;
  const connection = await mysql.createConnection({ host, port, user, password });
  await connection.query('SHUTDOWN').finally(() => connection.destroy());
  await eventually(async () => !(await databaseAnswers(config)), 60_000, 'the database server to stop');
}

async function startDatabase(config: AppConfig): Promise<void> {
  if (await databaseAnswers(config)) return;
  if (onMySqlSandbox) {
    sh('bash', sandboxScript, 'start');
  } else {
    sh('mkdir', '-p', '/run/mysqld');
    sh('chown', 'mysql:mysql', '/run/mysqld');
    sh('start-stop-daemon', '--start', '--oknodo', '--background', '--exec', '/usr/sbin/mariadbd', '--', '--user=mysql');
  }
  await eventually(() => databaseAnswers(config), 60_000, 'the database server to start');
}

function startRabbit(): void {
  sh('rabbitmqctl', 'start_app');
  sh('rabbitmqctl', 'await_startup');
}

/** An administrator of the suite's database (made as `npm run admin:create` would): an ID token. */
async function adminToken(config: AppConfig): Promise<string> {
  const identity = await signUp('outage-admin');
  rememberPersonalData('Outage Admin');
  const container = buildContainer(config);
  try {
    await container.resolve(UserService).bootstrapAdmin('OUT-ADMIN', { name: 'Outage Admin', username: identity.uid, email: identity.email, role: 'ADMIN' });
  } finally {
    await container.resolve(StorageConnector).close();
    await container.resolve(Logging).close();
  }
  return identity.idToken;
}

/** The broker's memory high watermark as `rabbitmqctl set_vm_memory_high_watermark` takes it: `0.4`, or `absolute <bytes>`. */
function memoryWatermark(): string[] {
  const value = sh('rabbitmqctl', 'eval', 'vm_memory_monitor:get_vm_memory_high_watermark().').trim();
  const absolute = /^\{absolute,(\d+)\}$/.exec(value);
  if (absolute) return ['absolute', absolute[1]];
  // 0 is what this suite sets: left by a run that was killed during the alarm test, not the broker's own.
  if (!/^[\d.]+$/.test(value) || Number(value) === 0) return ['0.4'];
  return [value];
}

function setMemoryWatermark(watermark: string[]): void {
  sh('rabbitmqctl', 'set_vm_memory_high_watermark', ...watermark);
}

describe('Outages', { concurrency: false }, () => {
  let config: AppConfig;
  let env: Record<string, string | undefined>;
  let amqp: AmqpClient;
  let app: AppProcess | null = null;

  const stored = () => storedMeasures(config);
  const accessCacheEnabled = async () => {
    const metrics = await (await fetch(`${app!.baseUrl}/metrics`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith('mymonit_access_cache_enabled'));
    return Number(line?.split(' ').at(-1));
  };
  const storedOr = (fallback: number) => stored().catch(() => fallback);
  const reset = async () => {
    await app?.stop('SIGKILL');
    app = null;
    await reconnectAmqp();
    const { host, port, user, password, database } = config.db;
    const connection = await mysql.createConnection({ host, port, user, password, database });
    await connection.query('DELETE FROM measures');
    await connection.end();
    await amqp.channel.purgeQueue(amqp.topology.queue);
    await amqp.channel.purgeQueue(amqp.topology.deadLetterQueue);
  };
  const reconnectAmqp = async () => {
    await amqp.close();
    amqp = await AmqpClient.connect(config);
  };
  const untilAllStored = async (expected: number, ms = 90_000) => {
    await eventually(async () => (await storedOr(-1)) >= expected, ms, `${expected} measures stored`);
    await eventually(async () => (await amqp.messageCount(amqp.topology.queue)) === 0, ms, 'queue drained');
  };

  let watermark: string[];

  before(async () => {
    watermark = memoryWatermark();
    env = testEnvironment({ LOG_LEVEL: 'info' });
    config = loadConfig(env);
    await prepareDatabase(config, 'OUT', 'Outages');
    amqp = await AmqpClient.connect(config);
  });

  after(async () => {
    await startDatabase(config);
    try {
      sh('rabbitmqctl', 'await_startup');
    } catch {
      startRabbit();
    }
    try {
      setMemoryWatermark(watermark ?? ['0.4']);
    } catch (error) {
      console.error(`cannot set RabbitMQ's memory watermark back: ${(error as Error).message}`);
    }
    await app?.stop('SIGKILL');
    await amqp?.close();
    await removeTopology(config);
    await dropDatabase(config);
  });

  it('When the app is killed (-9) in the middle of 50,000 messages and restarted, then exactly 50,000 are stored', { timeout: 180_000 }, async () => {
    await reset();
    app = await startAppProcess(env);
    const publishing = amqp.publish(messages(50_000));
    await eventually(async () => (await storedOr(0)) >= 5_000, 60_000, 'ingestion under way');
    await app.stop('SIGKILL');
    const atKill = await stored();
    assert.ok(atKill < 50_000, `killed mid-stream (${atKill} stored)`);
    await publishing;
    app = await startAppProcess(env);
    await untilAllStored(50_000);
    assert.equal(await stored(), 50_000);
    assert.equal(await amqp.messageCount(amqp.topology.deadLetterQueue), 0);
  });

  it('When the broker restarts mid-stream, then the app reconnects and exactly 50,000 are stored', { timeout: 180_000 }, async () => {
    await reset();
    await amqp.publish(messages(50_000));
    app = await startAppProcess(env);
    await eventually(async () => (await storedOr(0)) >= 5_000, 60_000, 'ingestion under way');
    sh('rabbitmqctl', 'stop_app');
    try {
      const health = await fetch(`${app.baseUrl}/health`);
      assert.equal(health.status, 200, 'REST serves while the broker is down');
      await eventually(async () => (await fetch(`${app!.baseUrl}/ready`)).status === 503, 10_000, '/ready to say 503');
      const ready = (await (await fetch(`${app.baseUrl}/ready`)).json()) as { checks: unknown };
      assert.deepEqual(ready.checks, { mysql: 'up', rabbitmq: 'down' });
      // Access-change notices cannot arrive: the access cache must be off.
      await eventually(async () => (await accessCacheEnabled()) === 0, 10_000, 'the access cache to be off');
      for (const connection of ['publish', 'consume']) {
        assert.equal(await scrapeMetric(app.baseUrl, 'mymonit_rabbit_connected', { connection }), 0, `${connection} connection down`);
      }
      await new Promise((r) => setTimeout(r, 3_000));
    } finally {
      startRabbit();
    }
    await reconnectAmqp();
    await untilAllStored(50_000);
    assert.match(app.output(), /disconnected from RabbitMQ; reconnecting/);
    assert.equal(await stored(), 50_000);
    await eventually(async () => (await fetch(`${app!.baseUrl}/ready`)).status === 200, 20_000, '/ready back to 200');
    await eventually(async () => (await accessCacheEnabled()) === 1, 20_000, 'the access cache to be back on');
    for (const connection of ['publish', 'consume']) {
      assert.equal(await scrapeMetric(app.baseUrl, 'mymonit_rabbit_connected', { connection }), 1, `${connection} connection back`);
      assert.equal(await scrapeMetric(app.baseUrl, 'mymonit_rabbit_blocked', { connection }), 0, `${connection} connection not blocked`);
    }
  });

  it('When a memory alarm blocks publishing, then the app goes on storing and acknowledging, and dead-letters what it refused once, when the alarm lifts', { timeout: 150_000 }, async () => {
    await reset();
    const valid = messages(2_000);
    const poison = '{"experiment_id": "OUT", "sensor":';
    const token = await adminToken(config);
    await amqp.publish([...valid.slice(0, 150), poison, ...valid.slice(150)]);
    const rejections = () => app!.output().split('\n').filter((line) => line.includes('message rejected')).length;
    // 0: the alarm goes off at once, and RabbitMQ blocks every connection that publishes.
    setMemoryWatermark(['0']);
    try {
      app = await startAppProcess(env);
      // Dead-lettering the refused message is a publish: blocked, it waits for the alarm to lift. Meanwhile
      // the valid ones, before it, beside it and in the batches after it, are acknowledged as they are
      // written, on the consumer's own connection: only the poison is held.
      await eventually(async () => (await storedOr(0)) === 2_000, 30_000, 'the valid messages stored');
      await eventually(
        async () => (await scrapeMetric(app!.baseUrl, 'mymonit_ingest_unacked_bytes')) === Buffer.byteLength(poison),
        5_000,
        'every valid message acknowledged',
      );
      await eventually(() => /RabbitMQ blocks this connection/.test(app!.output()), 15_000, 'the block logged');
      // …and shown: the publishing connection is blocked, the consuming one carries on.
      assert.equal(await scrapeMetric(app.baseUrl, 'mymonit_rabbit_blocked', { connection: 'publish' }), 1);
      assert.equal(await scrapeMetric(app.baseUrl, 'mymonit_rabbit_connected', { connection: 'consume' }), 1);
      // HTTP ingestion says so at once rather than after the publish timeout.
      const started = Date.now();
      const posted = await fetch(`${app.baseUrl}/experiments/OUT/measures`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(messages(1, 1_000)),
      });
      assert.equal(posted.status, 503);
      assert.match(((await posted.json()) as { detail: string }).detail, /memory or disk alarm/);
      assert.ok(Date.now() - started < 2_000, `answered in ${Date.now() - started} ms`);
      // Past the 10-s publish timeout, the refused message is still held, refused once: not requeued,
      // refused again and published again every 10 s, each copy landing once the alarm lifts.
      await new Promise((r) => setTimeout(r, 12_000));
      assert.equal(await scrapeMetric(app.baseUrl, 'mymonit_ingest_unacked_bytes'), Buffer.byteLength(poison));
      assert.equal(rejections(), 1, 'refused once');
      assert.doesNotMatch(app.output(), /cannot dead-letter a rejected message/);
      assert.equal(await amqp.messageCount(amqp.topology.queue), 0, 'the refused message is held, not requeued');
    } finally {
      setMemoryWatermark(watermark);
    }
    // The alarm lifts: the waiting copy is confirmed, and the refused message acknowledged.
    await eventually(async () => (await scrapeMetric(app!.baseUrl, 'mymonit_ingest_unacked_bytes')) === 0, 30_000, 'the refused message acknowledged');
    assert.equal(await scrapeMetric(app.baseUrl, 'mymonit_ingest_messages_total', { outcome: 'rejected' }), 1);
    assert.equal(await amqp.messageCount(amqp.topology.queue), 0);
    const dead = await amqp.drainDeadLetters();
    assert.equal(dead.length, 1, 'one dead-lettered copy');
    assert.equal(dead[0].content.toString(), poison);
    assert.match(String(dead[0].properties.headers?.['x-mymonit-error']), /not valid JSON/);
    assert.equal(await stored(), 2_000);
  });

  it('When the app is stopped while a memory alarm holds a dead-letter copy, then the refused message goes back to the queue at once', { timeout: 120_000 }, async () => {
    await reset();
    const poison = '{"experiment_id": "OUT", "sensor":';
    await amqp.publish([...messages(100), poison]);
    setMemoryWatermark(['0']);
    let exit: number | null;
    let stopSeconds: number;
    try {
      app = await startAppProcess(env);
      await eventually(async () => (await storedOr(0)) === 100, 30_000, 'the valid messages stored');
      await eventually(async () => (await scrapeMetric(app!.baseUrl, 'mymonit_rabbit_blocked', { connection: 'publish' })) === 1, 15_000, 'publishing blocked');
      const started = Date.now();
      exit = await app.stop('SIGTERM');
      stopSeconds = (Date.now() - started) / 1000;
      assert.match(app.output(), /refused messages whose dead-letter copy it has not confirmed go back to the queue/);
      app = null;
      assert.equal(await amqp.messageCount(amqp.topology.queue), 1, 'the refused message is back in the queue');
    } finally {
      setMemoryWatermark(watermark);
    }
    assert.ok(stopSeconds < 5, `stopped in ${stopSeconds} s: not the 30-s grace period`);
    assert.equal(exit, 0);
    app = await startAppProcess(env);
    await eventually(async () => (await amqp.messageCount(amqp.topology.queue)) === 0, 30_000, 'the refused message taken again');
    await eventually(async () => (await amqp.messageCount(amqp.topology.deadLetterQueue)) >= 1, 30_000, 'the refused message dead-lettered');
    // The stopped instance's blocked copy may land too once the alarm lifts: a dead-letter, like any message, arrives at least once.
    const dead = await amqp.drainDeadLetters();
    assert.ok(dead.length >= 1 && dead.length <= 2, `${dead.length} dead-lettered copies`);
    for (const copy of dead) assert.equal(copy.content.toString(), poison);
    assert.equal(await stored(), 100);
  });

  it('When MySQL is stopped for 20 s mid-stream, then nothing is lost and exactly 50,000 are stored', { timeout: 240_000 }, async () => {
    await reset();
    await amqp.publish(messages(50_000));
    app = await startAppProcess(env);
    await eventually(async () => (await storedOr(0)) >= 5_000, 60_000, 'ingestion under way');
    const reader = await signUp('outage-reader');
    await stopDatabase(config);
    let during: { ready: number; health: number; queued: number; signedIn: Response };
    try {
      await eventually(async () => (await fetch(`${app!.baseUrl}/ready`)).status === 503, 15_000, '/ready to say 503');
      await new Promise((r) => setTimeout(r, 20_000));
      during = {
        ready: (await fetch(`${app.baseUrl}/ready`)).status,
        health: (await fetch(`${app.baseUrl}/health`)).status,
        queued: (await amqp.channel.checkQueue(amqp.topology.queue)).messageCount,
        // Signing in looks the user up in MySQL.
        signedIn: await fetch(`${app.baseUrl}/me`, { headers: { authorization: `Bearer ${reader.idToken}` } }),
      };
    } finally {
      await startDatabase(config);
    }
    assert.equal(during.health, 200, 'REST serves while MySQL is down');
    assert.equal(during.ready, 503);
    assert.equal(during.signedIn.status, 503, 'an outage, not an internal error');
    assert.equal(during.signedIn.headers.get('retry-after'), '5');
    assert.match(((await during.signedIn.json()) as { detail: string }).detail, /database is unavailable/);
    assert.ok(during.queued > 0, 'messages wait in RabbitMQ while MySQL is down');
    await untilAllStored(50_000, 120_000);
    assert.equal(await stored(), 50_000);
    assert.equal(await amqp.messageCount(amqp.topology.deadLetterQueue), 0, 'an outage is no reason to dead-letter');
  });

  it('When MySQL stops answering writes and the app gets SIGTERM, then it gives up after its grace period, exits 1, and the messages are stored on restart', { timeout: 240_000 }, async () => {
    await reset();
    await amqp.publish(messages(30_000));
    app = await startAppProcess(env);
    await eventually(async () => (await storedOr(0)) >= 3_000, 60_000, 'ingestion under way');
    // The server keeps its connections open but takes no write: every batch waits on the lock.
    const { host, port, user, password } = config.db;
    const locker = await mysql.createConnection({ host, port, user, password });
    let stop: { code: number | null; seconds: number; output: string };
    try {
      await locker.query('FLUSH TABLES WITH READ LOCK');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const started = Date.now();
      const code = await app.stop('SIGTERM');
      stop = { code, seconds: (Date.now() - started) / 1000, output: app.output() };
      app = null;
    } finally {
      await locker.query('UNLOCK TABLES').catch(() => undefined);
      await locker.end();
    }
    assert.equal(stop.code, 1, stop.output.slice(-2000));
    assert.ok(stop.seconds >= SHUTDOWN_GRACE_MS / 1000 - 1 && stop.seconds < 60, `stopped after ${stop.seconds} s`);
    assert.match(stop.output, /shutdown grace period over/);
    app = await startAppProcess(env);
    await untilAllStored(30_000);
    assert.equal(await stored(), 30_000);
  });

  it('When the app gets SIGTERM mid-stream, then it acks what it stored, exits 0, and loses nothing', { timeout: 180_000 }, async () => {
    await reset();
    await amqp.publish(messages(30_000));
    app = await startAppProcess(env);
    await eventually(async () => (await storedOr(0)) >= 3_000, 60_000, 'ingestion under way');
    const code = await app.stop('SIGTERM');
    const output = app.output();
    app = null;
    assert.equal(code, 0, output.slice(-2000));
    const afterStop = await stored();
    // The broker puts the unacknowledged messages back when the app's connection is gone: a moment after exit.
    let left = -1;
    await eventually(async () => (left = await amqp.messageCount(amqp.topology.queue)) >= 30_000 - afterStop, 10_000, 'in-flight messages back in the queue').catch(() => undefined);
    assert.equal(afterStop + left, 30_000, `stored ${afterStop} + queued ${left}: in-flight messages were acked or returned, none both`);
    app = await startAppProcess(env);
    await untilAllStored(30_000);
    assert.equal(await stored(), 30_000);
  });
});
