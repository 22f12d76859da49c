import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import amqplib, { type ConsumeMessage } from 'amqplib';
import mysql from 'mysql2/promise';
import { configOrExit } from '../src/cli/cli-context';
import { buildContainer } from '../src/container';
import { Logging } from '../src/logging/logging';
import { topologyOf } from '../src/rabbit/topology';
import { UserService } from '../src/services/user.service';
import { ExperimentRepository } from '../src/storage/experiment.repository';
import { Migrator } from '../src/storage/migrator';
import { StorageConnector } from '../src/storage/storage-connector';
import { startAppProcess, type AppProcess } from '../test/support/app-process';
import { APP_LOGGING, useBenchEnvironment } from './bench-env';
import { benchSensors, RAW_UPSERT } from './raw-writes';
import { cpuMeter, machineFacts, percentile, pidsNamed, table, writeResults } from './stats';
import { signUp } from '../test/support/identities';
import { AmqpClient } from '../test/support/amqp';

/**
 * `npm run bench:ingest`: the ingestion pipeline against its ceiling, in one run.
 *   naive: the original design (insert + ack per message) on 5,000 messages, for scale: with
 *       prefetch 1, as the baseline was measured, and with the app's prefetch (the broker
 *       then has the next message at hand when a write ends); once per round, best of each
 *   (a) a raw amqplib + mysql2 batched pipeline draining 200,000 single-measure messages
 *   (b) the app draining the same 200,000 messages ((a) and (b) three times, interleaved; best of each;
 *       both timed after 20,000 untimed messages that warm them up)
 *   (c) the app draining 2,000 messages of 100 measures, against a raw 500-row multi-insert
 *   (d) a publisher at full confirmed rate and the app at once: queue depth, publish→stored latency
 *       (after a 2-s warm-up of the just-started app, whose p99 is shown apart)
 *   (e) the app's resident memory
 *   (f) large messages (1,000 measures, ~100 kB each): the app's resident memory draining 2,000
 *       of them (200 MB) within its budget of unacknowledged messages (64 MiB, 80,000 measures)
 * Writes bench/results/ingest.json (or ingest-<label>.json with `--label`). It runs in the
 * bench database (see `npm run seed`) or `--database`: the rows already stored there
 * matter, since index size changes insert cost.
 */

const EXPERIMENT = 'BENCH-INGEST';
const T0 = Date.parse('2030-01-01T00:00:00.000Z');

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    batches: { type: 'string', default: '2000' },
    sustain: { type: 'string', default: '30' },
    database: { type: 'string' },
    label: { type: 'string' },
    large: { type: 'string', default: '2000' },
  },
});
const MESSAGES = Number(args.messages);
const BATCH_MESSAGES = Number(args.batches);
const SUSTAIN_SECONDS = Number(args.sustain);
const LARGE_MESSAGES = Number(args.large);
const NAIVE_MESSAGES = 5000;
/** The naive pipeline's prefetch: 1, or the app's. */
type NaivePrefetch = 'one' | 'app';
/**
 * (a) and (b) drain this many more messages first, untimed: the app starts
 * afresh each round and its first second is JIT warm-up, while the raw
 * pipeline runs in this process, warm from the rounds before. Both are timed
 * over the same 200,000 messages that follow.
 */
const WARM_MESSAGES = 20_000;
/** (d) publishes this long before its measured seconds: the first second of a just-started app is JIT warm-up. */
const WARMUP_SECONDS = 2;
const ROUNDS = 3;

useBenchEnvironment();
if (args.database) process.env.DB_DATABASE = args.database;
process.env.RABBIT_EXCHANGE = 'mymonit.bench';
process.env.RABBIT_QUEUE = 'measures.bench';
const config = configOrExit();
const topology = topologyOf(config);

/** Set BENCH_APP_CPU_PROFILE=<dir> to write a CPU profile of each app process. */
const appFlags = process.env.BENCH_APP_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_APP_CPU_PROFILE}`] : [];

const single = (i: number) =>
  Buffer.from(JSON.stringify({ experiment_id: EXPERIMENT, sensor: `s${i % 50}`, value: i * 0.5, unit: 'K', timestamp: T0 + i }));

function* bodies(count: number, body: (i: number) => Buffer) {
  for (let i = 0; i < count; i++) yield body(i);
}

/** Polls `check` every `every` ms (gently: polling the app costs the app CPU). */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: string, every = 20) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Waits until the app has stored `expected` messages: first by the queue's depth (asked of the broker), then by its metrics. */
async function drained(app: AppProcess, depth: () => Promise<number>, expected: number, what: string) {
  await until(async () => (await depth()) === 0, 600_000, what, 50);
  await until(async () => (await storedByApp(app)) >= expected, 60_000, what, 10);
}

/**
 * The ceiling: the simplest correct batched pipeline, no validation, no
 * framework, with the app's prefetch and batch size and wait.
 */
async function rawPipeline(db: mysql.Connection, connection: amqplib.ChannelModel, ref: number, sensorRefs: Map<string, number>, warm: number, timed: number) {
  const channel = await connection.createChannel();
  await channel.prefetch(config.ingest.prefetch);
  let pending: ConsumeMessage[] = [];
  let timer: NodeJS.Timeout | null = null;
  let done = 0;
  let writing = Promise.resolve();
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    writing = writing.then(async () => {
      const rows = batch.map((m) => {
        const x = JSON.parse(m.content.toString('utf8'));
        return [ref, x.timestamp, sensorRefs.get(x.sensor), x.value, x.unit ?? null, null];
      });
      await db.query(RAW_UPSERT, [rows]);
      channel.ack(batch[batch.length - 1], true);
      done += batch.length;
    });
  };
  await channel.consume(topology.queue, (m) => {
    if (!m) return;
    pending.push(m);
    if (pending.length >= config.ingest.batchMessages) flush();
    else timer ??= setTimeout(flush, config.ingest.batchWaitMs);
  });
  // Timed from the end of the warm-up, as the app is (stored counts, polled alike).
  await until(() => done >= warm, 600_000, 'raw pipeline warm-up', 10);
  const stored = done;
  const started = process.hrtime.bigint();
  const cpu = drainCpuMeter(process.pid);
  await until(() => done >= warm + timed, 600_000, 'raw pipeline', 10);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const measured = done - stored;
  const cpuPerMessage = cpu(measured);
  await channel.close();
  return { rate: measured / seconds, cpu: cpuPerMessage };
}

/**
 * The original design, measured here rather than quoted: each message
 * inserted on its own (autocommit) and acked after its insert, one at a time,
 * with `prefetch` deliveries at most unacknowledged.
 */
async function naivePipeline(db: mysql.Connection, connection: amqplib.ChannelModel, ref: number, sensorRefs: Map<string, number>, expected: number, prefetch: number) {
  const channel = await connection.createChannel();
  await channel.prefetch(prefetch);
  let done = 0;
  let writing = Promise.resolve();
  const started = process.hrtime.bigint();
  await channel.consume(topology.queue, (m) => {
    if (!m) return;
    writing = writing.then(async () => {
      const x = JSON.parse(m.content.toString('utf8'));
      await db.execute(
        'INSERT INTO measures (experiment_ref, ts, sensor_ref, value, unit, tags) VALUES (?, ?, ?, ?, ?, NULL) ON DUPLICATE KEY UPDATE value = VALUES(value)',
        [ref, x.timestamp, sensorRefs.get(x.sensor), x.value, x.unit ?? null],
      );
      channel.ack(m);
      done++;
    });
  });
  await until(() => done >= expected, 600_000, 'naive pipeline');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await channel.close();
  return expected / seconds;
}

/** The p99 latency of the measures published in each second of the run, in order: tails that cluster show when. */
function p99PerSecond(sentAt: number[], latencies: number[], first: number): number[] {
  const bySecond: number[][] = [];
  sentAt.forEach((t, i) => (bySecond[Math.floor((t - first) / 1000)] ??= []).push(latencies[i]));
  return Array.from(bySecond, (l) => (l ? percentile(l, 99) : NaN));
}

/** Processes whose CPU time a drain is charged with: the consumer, the broker, the database (those running here). */
const drainCpuMeter = (consumerPid: number) =>
  cpuMeter({ consumer: [consumerPid], broker: pidsNamed(['beam.smp']), database: pidsNamed(['mariadbd', 'mysqld']) });

/** "consumer, broker, MySQL" µs per message, each the median over the rounds. */
function cpuCell(runs: Record<string, number>[]): string {
  return ['consumer', 'broker', 'database'].map((g) => percentile(runs.map((r) => r[g]), 50)).join(', ');
}

/** Resident memory of a process, MB. */
function rssMb(pid: number): number {
  try {
    return readRss(pid);
  } catch {
    return 0; // the process has exited
  }
}

function readRss(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.replace(/\D+/g, '') ?? 0) / 1024;
}

async function storedByApp(app: AppProcess): Promise<number> {
  const text = await (await fetch(`${app.baseUrl}/metrics`)).text();
  return Number(/mymonit_ingest_messages_total\{[^}]*outcome="stored"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
}

async function main() {
  const container = buildContainer(config);
  await container.resolve(Migrator).migrate();
  const experiments = container.resolve(ExperimentRepository);
  const experiment =
    (await experiments.findById(EXPERIMENT)) ?? (await experiments.insert(EXPERIMENT, { name: 'Ingestion benchmark', description: '' }, new Date()));
  await container.resolve(StorageConnector).close();
  await container.resolve(Logging).close();

  const { host, port, user, password, database } = config.db;
  const db = await mysql.createConnection({ host, port, user, password, database });
  const [[{ n: preexisting }]] = (await db.query('SELECT COUNT(*) AS n FROM measures')) as unknown as [[{ n: number }]];
  const sensorRefs = await benchSensors(db, experiment.ref);
  const clean = () => db.query('DELETE FROM measures WHERE experiment_ref = ?', [experiment.ref]);

  const amqp = await amqplib.connect(config.rabbit.url);
  // Publishes as an instrument does; connecting declares the app's topology (idempotent).
  const publisher = await AmqpClient.connect(config);
  const admin = await amqp.createChannel();
  const depth = async () => (await admin.checkQueue(topology.queue)).messageCount;
  /**
   * The app's clock starts when its consumer is registered, as the raw
   * pipeline's does: the broker connection and topology set-up at start are
   * not ingestion.
   */
  const consuming = async () => {
    await until(async () => (await admin.checkQueue(topology.queue)).consumerCount > 0, 30_000, 'the app to consume', 2);
    return process.hrtime.bigint();
  };
  await admin.purgeQueue(topology.queue);
  await clean();
  const machine = machineFacts();
  const results: Record<string, unknown> = { benchmark: 'ingest', date: new Date().toISOString(), machine, measures_already_stored: Number(preexisting) };
  console.log(`${machine.cores} × ${machine.cpu}, reference loop ${machine.reference_loop_ms} ms; measures table holds ${preexisting} rows before the run`);

  /**
   * The naive pipeline, at the start of each round: a few thousand messages
   * are enough at its pace, whose rate follows the disk's commit latency, which
   * drifts through a run. With prefetch 1 (the baseline, ≈ 1.2k msg/s
   * where it was set, was measured so) and with the app's prefetch.
   */
  const naiveRuns: Record<NaivePrefetch, number[]> = { one: [], app: [] };
  const naiveRound = async () => {
    for (const variant of ['one', 'app'] as const) {
      await publisher.publish(bodies(NAIVE_MESSAGES, single));
      const prefetch = variant === 'one' ? 1 : config.ingest.prefetch;
      naiveRuns[variant].push(await naivePipeline(db, amqp, experiment.ref, sensorRefs, NAIVE_MESSAGES, prefetch));
      console.log(`naive pipeline, prefetch ${prefetch}: ${naiveRuns[variant].at(-1)!.toFixed(0)} msg/s`);
      await clean();
    }
  };

  // (a) and (b), three times each, interleaved: this machine's throughput drifts by tens
  // of percent from minute to minute, so each side gets its best of three.
  const rawRuns: number[] = [];
  const appRuns: number[] = [];
  /** The app's rate over its whole drain, its first second (JIT warm-up) included. */
  const appColdRuns: number[] = [];
  // CPU time per message of the consumer, the broker and MySQL: steadier than throughput here.
  const rawCpuRuns: Record<string, number>[] = [];
  const appCpuRuns: Record<string, number>[] = [];
  let rssPeak = 0;
  let app: AppProcess | null = null;
  const sampler = setInterval(() => app && (rssPeak = Math.max(rssPeak, rssMb(app.child.pid!))), 200);
  for (let round = 1; round <= ROUNDS; round++) {
    await naiveRound();
    console.log(`(a) round ${round}: prefilling ${WARM_MESSAGES} + ${MESSAGES} messages…`);
    await publisher.publish(bodies(WARM_MESSAGES + MESSAGES, single));
    const rawRun = await rawPipeline(db, amqp, experiment.ref, sensorRefs, WARM_MESSAGES, MESSAGES);
    rawRuns.push(rawRun.rate);
    rawCpuRuns.push(rawRun.cpu);
    console.log(`(a) raw pipeline: ${rawRuns.at(-1)!.toFixed(0)} msg/s; CPU µs per message ${JSON.stringify(rawCpuRuns.at(-1))}`);
    await clean();
    console.log(`(b) round ${round}: prefilling ${WARM_MESSAGES} + ${MESSAGES} messages…`);
    await publisher.publish(bodies(WARM_MESSAGES + MESSAGES, single));
    app = await startAppProcess({ ...process.env, ...APP_LOGGING }, appFlags, true);
    const consumingSince = await consuming();
    const running = app;
    await until(async () => (await storedByApp(running)) >= WARM_MESSAGES, 600_000, 'app warm-up', 10);
    const warmStored = await storedByApp(app);
    const started = process.hrtime.bigint();
    const appCpu = drainCpuMeter(app.child.pid!);
    await drained(app, depth, WARM_MESSAGES + MESSAGES, 'app drain');
    const ended = process.hrtime.bigint();
    const measured = WARM_MESSAGES + MESSAGES - warmStored;
    appRuns.push(measured / (Number(ended - started) / 1e9));
    appCpuRuns.push(appCpu(measured));
    const coldRate = (WARM_MESSAGES + MESSAGES) / (Number(ended - consumingSince) / 1e9);
    appColdRuns.push(coldRate);
    console.log(
      `(b) app: ${appRuns.at(-1)!.toFixed(0)} msg/s (its whole drain, warm-up included: ${coldRate.toFixed(0)}); CPU µs per message ${JSON.stringify(appCpuRuns.at(-1))}`,
    );
    await app.stop();
    await clean();
  }
  const raw = Math.max(...rawRuns);
  const appRate = Math.max(...appRuns);
  // The fastest naive round of each: the ratios below are the least favourable of the run.
  const naive = Math.max(...naiveRuns.one);
  const naiveAppPrefetch = Math.max(...naiveRuns.app);

  // (c) batches of 100 measures, against a raw 500-row multi-insert
  let started: bigint;
  const rows = Array.from({ length: BATCH_MESSAGES * 100 }, (_, i) => [experiment.ref, T0 + i, sensorRefs.get(`s${i % 50}`), i * 0.5, 'K', null]);
  started = process.hrtime.bigint();
  for (let i = 0; i < rows.length; i += 500) {
    await db.query('INSERT INTO measures (experiment_ref, ts, sensor_ref, value, unit, tags) VALUES ?', [rows.slice(i, i + 500)]);
  }
  const rawInsert = rows.length / (Number(process.hrtime.bigint() - started) / 1e9);
  console.log(`(c) raw 500-row multi-insert: ${rawInsert.toFixed(0)} rows/s`);
  await clean();
  const batchBody = (b: number) =>
    Buffer.from(
      JSON.stringify(Array.from({ length: 100 }, (_, j) => ({ experiment_id: EXPERIMENT, sensor: `s${(b * 100 + j) % 50}`, value: j, unit: 'K', timestamp: T0 + b * 100 + j }))),
    );
  await publisher.publish(bodies(BATCH_MESSAGES, batchBody));
  app = await startAppProcess({ ...process.env, ...APP_LOGGING }, appFlags, true);
  started = await consuming();
  await drained(app, depth, BATCH_MESSAGES, 'app drain of batches');
  const batchRate = (BATCH_MESSAGES * 100) / (Number(process.hrtime.bigint() - started) / 1e9);
  console.log(`(c) app: ${batchRate.toFixed(0)} measures/s`);
  await app.stop();
  await clean();

  // (d) sustained: publisher (in a worker) at full confirmed rate, app consuming, SSE latency
  app = await startAppProcess({ ...process.env, ...APP_LOGGING }, appFlags, true);
  const token = await adminToken();
  const latencies: number[] = [];
  const sentAt: number[] = [];
  const sse = await fetch(`${app.baseUrl}/experiments/${EXPERIMENT}/measures/stream`, { headers: { authorization: `Bearer ${token}` } });
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of sse.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split('\n').find((l) => l.startsWith('data: '));
        if (!block.includes('event: measures') || !data) continue;
        const now = Date.now();
        for (const m of JSON.parse(data.slice(6)) as { value: number }[]) {
          latencies.push(now - m.value);
          sentAt.push(m.value);
        }
      }
    }
  })().catch(() => undefined);
  await new Promise((r) => setTimeout(r, 500));
  const depths: number[] = [];
  const worker = new Worker(join(__dirname, 'ingest-publisher.mjs'), {
    workerData: { url: config.rabbit.url, exchange: topology.exchange, routingKey: topology.routingKey, experiment: EXPERIMENT, seconds: WARMUP_SECONDS + SUSTAIN_SECONDS, t0: T0 },
  });
  const depthTimer = setInterval(() => void depth().then((d) => depths.push(d)), 1000);
  const published: number = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  clearInterval(depthTimer);
  await drained(app, depth, published, 'sustained drain');
  await new Promise((r) => setTimeout(r, 500));
  clearInterval(sampler);
  await app.stop();
  await reading;
  await clean();

  // (f) large messages: the budget of unacknowledged messages keeps them in the broker.
  const largeBody = (b: number) =>
    Buffer.from(
      JSON.stringify(Array.from({ length: 1000 }, (_, j) => ({ experiment_id: EXPERIMENT, sensor: `s${j % 50}`, value: b + j / 1000, unit: 'K', timestamp: T0 + b * 1000 + j }))),
    );
  const largeDrain = async () => {
    await publisher.publish(bodies(LARGE_MESSAGES, largeBody));
    const large = await startAppProcess({ ...process.env, ...APP_LOGGING }, appFlags, true);
    const before = rssMb(large.child.pid!);
    let peak = before;
    const largeSampler = setInterval(() => (peak = Math.max(peak, rssMb(large.child.pid!))), 100);
    const begun = await consuming();
    await drained(large, depth, LARGE_MESSAGES, 'large messages drain');
    const rate = (LARGE_MESSAGES * 1000) / (Number(process.hrtime.bigint() - begun) / 1e9);
    clearInterval(largeSampler);
    await large.stop();
    await clean();
    console.log(`(f) app RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MB, ${rate.toFixed(0)} measures/s`);
    return { rss_before_mb: before, rss_peak_mb: peak, measures_per_s: rate };
  };
  const largeBytes = largeBody(0).length;
  const large = await largeDrain();

  const firstSent = sentAt.reduce((a, b) => Math.min(a, b), Infinity);
  const warmUpEnd = firstSent + WARMUP_SECONDS * 1000;
  const steady = latencies.filter((_, i) => sentAt[i] >= warmUpEnd);
  const warmUp = latencies.filter((_, i) => sentAt[i] < warmUpEnd);
  const sustained = {
    seconds: SUSTAIN_SECONDS,
    warm_up_seconds: WARMUP_SECONDS,
    published_msg_per_s: published / (WARMUP_SECONDS + SUSTAIN_SECONDS),
    queue_depth_per_second: depths,
    queue_depth_max: Math.max(...depths),
    // Measures published after the warm-up; the warm-up's own p99 is kept beside them.
    latency_ms: {
      p50: percentile(steady, 50),
      p90: percentile(steady, 90),
      p99: percentile(steady, 99),
      max: percentile(steady, 100),
      samples: steady.length,
      warm_up_p99: percentile(warmUp, 99),
      p99_per_second: p99PerSecond(sentAt, latencies, firstSent),
    },
  };
  Object.assign(results, {
    settings: { prefetch: config.ingest.prefetch, batch_messages: config.ingest.batchMessages, batch_wait_ms: config.ingest.batchWaitMs },
    a_raw_pipeline_msg_per_s: raw,
    a_runs: rawRuns,
    a_cpu_us_per_msg_runs: rawCpuRuns,
    b_app_msg_per_s: appRate,
    b_runs: appRuns,
    b_runs_warm_up_included: appColdRuns,
    warm_up_messages: WARM_MESSAGES,
    b_cpu_us_per_msg_runs: appCpuRuns,
    b_over_a_per_round: appRuns.map((r, i) => r / rawRuns[i]),
    b_over_a: appRate / raw,
    naive_msg_per_s: naive,
    naive_runs: naiveRuns.one,
    b_over_naive: appRate / naive,
    a_over_naive: raw / naive,
    naive_app_prefetch_msg_per_s: naiveAppPrefetch,
    naive_app_prefetch_runs: naiveRuns.app,
    b_over_naive_app_prefetch: appRate / naiveAppPrefetch,
    a_over_naive_app_prefetch: raw / naiveAppPrefetch,
    c_raw_multi_insert_rows_per_s: rawInsert,
    c_app_measures_per_s: batchRate,
    c_over_raw_insert: batchRate / rawInsert,
    d_sustained: sustained,
    e_app_rss_peak_mb: rssPeak,
    f_large_messages: { messages: LARGE_MESSAGES, bytes_each: largeBytes, budget_mb: config.ingest.maxUnackedBytes / 1024 / 1024, ...large },
  });
  console.log(`(d) p99 by second of the run: ${sustained.latency_ms.p99_per_second.join(' ')} ms`);
  console.log(
    table(
      ['case', 'figure', 'target', 'met'],
      [
        ['naive pipeline (insert + ack per message), prefetch 1 / app prefetch', `${naive.toFixed(0)} / ${naiveAppPrefetch.toFixed(0)} msg/s`, '', ''],
        [`(a) raw pipeline, ${MESSAGES / 1000}k single-measure msgs after ${WARM_MESSAGES / 1000}k`, `${raw.toFixed(0)} msg/s`, 'ceiling', ''],
        ['(b) app, same messages', `${appRate.toFixed(0)} msg/s (${((100 * appRate) / raw).toFixed(0)}% of a; whole drain with warm-up ${Math.max(...appColdRuns).toFixed(0)})`, '>= 90% of (a)', appRate >= 0.9 * raw ? 'yes' : 'no'],
        ['(b) ÷ naive, prefetch 1 (the ceiling (a) ÷ naive)', `${(appRate / naive).toFixed(1)}x (${(raw / naive).toFixed(1)}x)`, '>= 20x naive', appRate >= 20 * naive ? 'yes' : 'no'],
        ['(b) ÷ naive, app prefetch (the ceiling (a) ÷ naive)', `${(appRate / naiveAppPrefetch).toFixed(1)}x (${(raw / naiveAppPrefetch).toFixed(1)}x)`, '', ''],
        ['(a) / (b) CPU µs per message: consumer, broker, MySQL (median round)', `${cpuCell(rawCpuRuns)} / ${cpuCell(appCpuRuns)}`, '', ''],
        ['(c) raw 500-row multi-insert', `${rawInsert.toFixed(0)} rows/s`, 'ceiling', ''],
        ['(c) app, 2,000 msgs x 100 measures', `${batchRate.toFixed(0)} measures/s (${((100 * batchRate) / rawInsert).toFixed(0)}%)`, '>= 80% of raw insert', batchRate >= 0.8 * rawInsert ? 'yes' : 'no'],
        ['(d) sustained publish rate', `${sustained.published_msg_per_s.toFixed(0)} msg/s`, '', ''],
        ['(d) queue depth max / last', `${sustained.queue_depth_max} / ${depths.at(-1)}`, 'flat', ''],
        ['(d) warm-up (first 2 s) publish -> stored p99', `${sustained.latency_ms.warm_up_p99} ms`, '', ''],
        ['(d) publish -> stored p50 / p90 / p99 / max', `${sustained.latency_ms.p50} / ${sustained.latency_ms.p90} / ${sustained.latency_ms.p99} / ${sustained.latency_ms.max} ms`, 'p99 <= 250 ms', sustained.latency_ms.p99 <= 250 ? 'yes' : 'no'],
        ['(e) app RSS peak', `${rssPeak.toFixed(0)} MB`, '<= 250 MB', rssPeak <= 250 ? 'yes' : 'no'],
        [`(f) ${LARGE_MESSAGES} msgs x 1,000 measures (${(largeBytes / 1000).toFixed(0)} kB): app RSS peak`, `${large.rss_peak_mb.toFixed(0)} MB (${large.measures_per_s.toFixed(0)} measures/s)`, '', ''],
      ],
    ),
  );
  writeResults(args.label ? `ingest-${args.label}.json` : 'ingest.json', results);
  await admin.deleteQueue(topology.queue).catch(() => undefined);
  await publisher.close();
  await amqp.close();
  await db.end();
}

/** An admin identity in the Auth Emulator, linked to a MyMONIT user, for the SSE client. */
async function adminToken(): Promise<string> {
  const identity = await signUp('ingest');
  const container = buildContainer(config);
  await container.resolve(UserService).bootstrapAdmin('BENCH-INGEST-ADMIN', {
    name: 'Bench',
    username: identity.uid,
    email: 'bench@mymonit.dev',
    role: 'ADMIN',
  });
  await container.resolve(StorageConnector).close();
  await container.resolve(Logging).close();
  return identity.idToken;
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(`bench:ingest failed: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);
