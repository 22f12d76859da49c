import 'reflect-metadata';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { loadConfig, type AppConfig } from '../../src/config';
import { AmqpClient, eventually } from '../support/amqp';
import { freePort, startAppProcess, type AppProcess } from '../support/app-process';
import { dropDatabase, prepareDatabase, removeTopology, storedMeasures, testEnvironment } from '../support/test-app';

/**
 * APP_WORKERS=2: one primary and two workers, each a whole app instance, on the
 * real MariaDB and RabbitMQ. The primary serves nothing; scrapes of /metrics
 * reach either worker and show both.
 */

/** A GET on a connection of its own, so that the primary hands it to the next worker. */
const getOnNewConnection = (url: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    request(url, { agent: false, headers: { connection: 'close' } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });

/** The workers' ids in the series of one metric. */
const workersIn = (metrics: string, name: string) =>
  new Set(
    metrics
      .split('\n')
      .filter((line) => line.startsWith(`${name}{`))
      .map((line) => /worker="(\d+)"/.exec(line)?.[1]),
  );

const pidsOf = async (primary: number) => {
  const { readFile } = await import('node:fs/promises');
  const children = await readFile(`/proc/${primary}/task/${primary}/children`, 'utf8');
  return children.trim().split(/\s+/).filter(Boolean).map(Number);
};

const T = Date.parse('2026-11-23T00:00:00.000Z');

describe('A cluster of two workers (APP_WORKERS=2)', { concurrency: false }, () => {
  let config: AppConfig;
  let env: Record<string, string | undefined>;
  let amqp: AmqpClient;
  let app: AppProcess;

  const stored = () => storedMeasures(config);

  before(async () => {
    env = testEnvironment({ APP_WORKERS: '2', LOG_LEVEL: 'info' });
    config = loadConfig(env);
    await prepareDatabase(config, 'CLU', 'Cluster');
    amqp = await AmqpClient.connect(config);
    app = await startAppProcess(env);
    // /health answered as soon as one worker listened; the other may still be starting.
    await eventually(() => app.output().split('REST API listening').length - 1 === 2, 30_000, 'both workers listening');
  });

  after(async () => {
    await app?.stop('SIGKILL');
    await amqp?.close();
    await removeTopology(config);
    await dropDatabase(config);
  });

  it('When requests arrive on new connections, then both workers serve them, and /metrics shows both from either', async () => {
    for (let i = 0; i < 8; i++) assert.equal((await getOnNewConnection(`${app.baseUrl}/health`)).status, 200);
    for (let i = 0; i < 2; i++) {
      const { status, body } = await getOnNewConnection(`${app.baseUrl}/metrics`);
      assert.equal(status, 200);
      assert.deepEqual(workersIn(body, 'mymonit_http_requests_total'), new Set(['1', '2']));
      // One family, once: a valid exposition, not two registries pasted together.
      assert.equal(body.split('\n').filter((l) => l === '# TYPE mymonit_http_requests_total counter').length, 1);
    }
  });

  it('When measures are published, then both workers consume the queue and every measure is stored once', async () => {
    await eventually(async () => (await amqp.channel.checkQueue(amqp.topology.queue)).consumerCount === 2, 20_000, 'two consumers');
    await amqp.publish(Array.from({ length: 5_000 }, (_, i) => ({ experiment_id: 'CLU', sensor: `s${i % 10}`, value: i, timestamp: T + i })));
    await eventually(async () => (await stored()) === 5_000, 30_000, '5,000 measures stored');
    const metrics = (await getOnNewConnection(`${app.baseUrl}/metrics`)).body;
    const counted = metrics
      .split('\n')
      .filter((l) => l.startsWith('mymonit_ingest_measures_total{'))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
    assert.equal(counted, 5_000);
  });

  it('When a worker is killed, then the primary starts another and the API keeps answering', async () => {
    const [victim] = await pidsOf(app.child.pid!);
    process.kill(victim, 'SIGKILL');
    await eventually(async () => {
      const pids = await pidsOf(app.child.pid!);
      return pids.length === 2 && !pids.includes(victim);
    }, 30_000, 'a replacement worker');
    await eventually(async () => {
      const metrics = (await getOnNewConnection(`${app.baseUrl}/metrics`)).body;
      return workersIn(metrics, 'mymonit_access_cache_enabled').has('3');
    }, 30_000, 'worker 3 in the metrics');
    assert.equal((await getOnNewConnection(`${app.baseUrl}/ready`)).status, 200);
  });

  it('When the primary gets SIGTERM, then every worker drains and the cluster exits 0', async () => {
    const workers = await pidsOf(app.child.pid!);
    assert.equal(await app.stop('SIGTERM'), 0);
    for (const pid of workers) assert.throws(() => process.kill(pid, 0), 'the worker is gone');
    assert.match(app.output(), /"event":"cluster\.stopped","failed":false/);
  });

  // Node's cluster ends a worker whose primary is gone at once; what it had not acknowledged is redelivered.
  it('When the primary is killed (-9), then its workers exit instead of serving unsupervised', async () => {
    const orphaned = await startAppProcess(env);
    await eventually(() => orphaned.output().split('REST API listening').length - 1 === 2, 30_000, 'both workers listening');
    const workers = await pidsOf(orphaned.child.pid!);
    assert.equal(workers.length, 2);
    await orphaned.stop('SIGKILL');
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await eventually(() => workers.every((pid) => !alive(pid)), 20_000, 'the workers to exit');
  });

  it('When a worker cannot start (MySQL unreachable), then the cluster stops and exits 1 instead of forking forever', async () => {
    const started = startAppProcess({ ...env, DB_PORT: String(await freePort()) });
    await assert.rejects(started, /the app exited with 1[\s\S]*"event":"cluster\.worker_failed"/);
  });
});
