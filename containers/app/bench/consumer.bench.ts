import 'reflect-metadata';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { configOrExit } from '../src/cli/cli-context';
import { buildContainer } from '../src/container';
import { Logging } from '../src/logging/logging';
import { RabbitMessageProcessor, type DecodedMessage } from '../src/rabbit/rabbit-message-processor';
import { ExperimentRepository } from '../src/storage/experiment.repository';
import { Migrator } from '../src/storage/migrator';
import { StorageConnector } from '../src/storage/storage-connector';
import { useBenchEnvironment } from './bench-env';
import { benchSensors, RAW_UPSERT } from './raw-writes';
import { machineFacts, percentile, table, writeResults } from './stats';

/**
 * `npm run bench:consumer`: the CPU the app's consumer spends per measure,
 * in this process, without a broker: the steadiest figure there is of the
 * app's own ingestion work, for comparing a change with the code before it
 * (bench:ingest's throughput moves by tens of percent with the host).
 *   app: each body decoded and validated (RabbitMessageProcessor.decode), then
 *        stored in batches as the listener cuts them (500 messages or 10,000
 *        measures), one transaction each (RabbitMessageProcessor.process)
 *   raw: what bench:ingest's raw pipeline does: JSON.parse, then a multi-row
 *        INSERT … ON DUPLICATE KEY UPDATE of 500 messages, no validation
 * Both write to MySQL (the bench database), one batch at a time; the rounds
 * alternate between them, after one untimed round of each. Figures: CPU µs
 * of this process (user + system) per measure, median of the rounds. AMQP
 * decoding, the listener's bookkeeping and the acknowledgements are left out.
 * Writes bench/results/consumer.json.
 */

const EXPERIMENT = 'BENCH-CONSUMER';
const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const BATCH_MEASURES = 10_000;

const { values: args } = parseArgs({
  options: {
    measures: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '5' },
    database: { type: 'string' },
  },
});
const MEASURES = Number(args.measures);
const ROUNDS = Number(args.rounds);

useBenchEnvironment();
if (args.database) process.env.DB_DATABASE = args.database;
const config = configOrExit();

/** `count` message bodies of `perMessage` measures each, as an instrument publishes them. */
function bodies(count: number, perMessage: number): Buffer[] {
  const measure = (i: number) => ({ experiment_id: EXPERIMENT, sensor: `s${i % 50}`, value: i * 0.5, unit: 'K', timestamp: T0 + i });
  return Array.from({ length: count }, (_, m) =>
    Buffer.from(
      JSON.stringify(perMessage === 1 ? measure(m) : Array.from({ length: perMessage }, (_, j) => measure(m * perMessage + j))),
    ),
  );
}

/** CPU µs (user + system) that `work` costs this process, per `units`. */
async function cpuPer(units: number, work: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  await work();
  const { user, system } = process.cpuUsage(before);
  return (user + system) / units;
}

async function main() {
  const container = buildContainer(config);
  await container.resolve(Migrator).migrate();
  const experiments = container.resolve(ExperimentRepository);
  const experiment =
    (await experiments.findById(EXPERIMENT)) ?? (await experiments.insert(EXPERIMENT, { name: 'Consumer benchmark', description: '' }, new Date()));
  const processor = container.resolve(RabbitMessageProcessor);
  const { host, port, user, password, database } = config.db;
  const db = await mysql.createConnection({ host, port, user, password, database });
  const sensorRefs = await benchSensors(db, experiment.ref);
  const clean = () => db.query('DELETE FROM measures WHERE experiment_ref = ?', [experiment.ref]);

  const app = async (messages: Buffer[]) => {
    let batch: DecodedMessage[] = [];
    let measures = 0;
    for (const body of messages) {
      const decoded = processor.decode(body);
      batch.push(decoded);
      measures += 'measures' in decoded ? decoded.measures.length : 0;
      if (batch.length >= config.ingest.batchMessages || measures >= BATCH_MEASURES) {
        const outcomes = await processor.process(batch);
        if (!outcomes.every((o) => o.stored === true)) throw new Error('the app did not store a batch');
        batch = [];
        measures = 0;
      }
    }
    if (batch.length > 0) await processor.process(batch);
  };
  const raw = async (messages: Buffer[]) => {
    for (let i = 0; i < messages.length; i += 500) {
      const rows = messages.slice(i, i + 500).flatMap((body) => {
        const parsed = JSON.parse(body.toString('utf8')) as { sensor: string; value: number; unit?: string; timestamp: number } | { sensor: string; value: number; unit?: string; timestamp: number }[];
        return (Array.isArray(parsed) ? parsed : [parsed]).map((x) => [experiment.ref, x.timestamp, sensorRefs.get(x.sensor), x.value, x.unit ?? null, null]);
      });
      await db.query(RAW_UPSERT, [rows]);
    }
  };

  const machine = machineFacts();
  console.log(`${machine.cores} × ${machine.cpu}, reference loop ${machine.reference_loop_ms} ms; ${MEASURES} measures a round, ${ROUNDS} rounds`);
  await clean();
  const cases: Record<string, { app: number[]; raw: number[] }> = {};
  for (const perMessage of [1, 100]) {
    const messages = bodies(MEASURES / perMessage, perMessage);
    const runs = { app: [] as number[], raw: [] as number[] };
    for (let round = 0; round <= ROUNDS; round++) {
      for (const [name, pipeline] of [['app', app], ['raw', raw]] as const) {
        const cpu = await cpuPer(MEASURES, () => pipeline(messages));
        await clean();
        if (round > 0) runs[name].push(cpu); // round 0 warms up
      }
    }
    cases[`${perMessage === 1 ? 'single-measure' : `${perMessage}-measure`} messages`] = runs;
    console.log(`${perMessage} measure(s) a message: app ${runs.app.map((v) => v.toFixed(2)).join(' ')}; raw ${runs.raw.map((v) => v.toFixed(2)).join(' ')} µs per measure`);
  }

  const range = (v: number[]) => `${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)}`;
  const median = (v: number[]) => percentile(v, 50);
  console.log(
    table(
      ['messages', 'app: CPU µs per measure, median (range)', 'raw', 'app − raw'],
      Object.entries(cases).map(([name, { app: a, raw: r }]) => [
        name,
        `${median(a).toFixed(2)} (${range(a)})`,
        `${median(r).toFixed(2)} (${range(r)})`,
        (median(a) - median(r)).toFixed(2),
      ]),
    ),
  );
  const results = {
    benchmark: 'consumer',
    date: new Date().toISOString(),
    machine,
    measures_per_round: MEASURES,
    rounds: ROUNDS,
    cpu_us_per_measure: Object.fromEntries(
      Object.entries(cases).map(([name, { app: a, raw: r }]) => [name, { app_median: median(a), raw_median: median(r), app_runs: a, raw_runs: r }]),
    ),
  };
  writeResults('consumer.json', results);
  await db.end();
  await container.resolve(StorageConnector).close();
  await container.resolve(Logging).close();
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(`bench:consumer failed: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);
