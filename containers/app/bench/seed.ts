import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { SingleBar, Presets } from 'cli-progress';
import type { DependencyContainer } from 'tsyringe';
import { configOrExit } from '../src/cli/cli-context';
import { buildContainer } from '../src/container';
import { Logging } from '../src/logging/logging';
import { ExperimentRepository } from '../src/storage/experiment.repository';
import { MeasureRepository, type MeasureRecord } from '../src/storage/measure.repository';
import { Migrator } from '../src/storage/migrator';
import { StorageConnector } from '../src/storage/storage-connector';
import { useBenchEnvironment } from './bench-env';

/**
 * `npm run seed -- --measures 1000000`: loads synthetic measures for
 * benchmarks: SEED-01..NN experiments with S sensors each, evenly spread over
 * the last D days (ending at today's UTC midnight, so a rerun rewrites the
 * same keys instead of adding rows). Writes in time order, as instruments do.
 */

const DAY = 86_400_000;
const ROWS_PER_TRANSACTION = 20_000;
const WORKERS = 2;

export interface SeedPlan {
  measures: number;
  experiments: number;
  sensors: number;
  days: number;
  end: number;
  /** Experiment ids are `${prefix}-01`, `${prefix}-02`, … */
  prefix: string;
}

export function seedPlan(argv = process.argv.slice(2)): SeedPlan {
  const { values } = parseArgs({
    args: argv,
    options: {
      measures: { type: 'string', default: '1000000' },
      experiments: { type: 'string', default: '20' },
      sensors: { type: 'string', default: '50' },
      days: { type: 'string', default: '30' },
    },
    allowPositionals: false,
  });
  const plan = {
    measures: Number(values.measures),
    experiments: Number(values.experiments),
    sensors: Number(values.sensors),
    days: Number(values.days),
    end: Math.floor(Date.now() / DAY) * DAY,
  };
  for (const [name, value] of Object.entries(plan)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
  }
  return { ...plan, prefix: 'SEED' };
}

export const seedExperimentId = (index: number, prefix = 'SEED') => `${prefix}-${String(index + 1).padStart(2, '0')}`;

/** Rows in time order: at each instant, every sensor of every experiment. */
function* rows(plan: SeedPlan, refs: number[]): Generator<MeasureRecord> {
  const perInstant = plan.experiments * plan.sensors;
  const instants = Math.ceil(plan.measures / perInstant);
  const step = Math.max(1, Math.floor((plan.days * DAY) / instants));
  const start = plan.end - instants * step;
  let produced = 0;
  for (let i = 0; i < instants; i++) {
    const timestamp = start + i * step;
    for (let e = 0; e < plan.experiments; e++) {
      for (let s = 0; s < plan.sensors; s++) {
        if (produced++ >= plan.measures) return;
        yield {
          experimentRef: refs[e],
          sensor: `sensor-${String(s).padStart(3, '0')}`,
          timestamp,
          value: 20 + 5 * Math.sin(i / 50 + s) + e * 0.1,
          unit: 'degC',
          tags: null,
        };
      }
    }
  }
}

export async function seed(container: DependencyContainer, plan: SeedPlan, progress = true): Promise<number> {
  await container.resolve(Migrator).migrate();
  const experiments = container.resolve(ExperimentRepository);
  const refs: number[] = [];
  for (let e = 0; e < plan.experiments; e++) {
    const id = seedExperimentId(e, plan.prefix);
    const experiment =
      (await experiments.findById(id)) ??
      (await experiments.insert(id, { name: `Seeded experiment ${e + 1}`, description: 'npm run seed' }, new Date()));
    refs.push(experiment.ref);
  }
  const storage = container.resolve(StorageConnector);
  const measures = container.resolve(MeasureRepository);
  const bar = new SingleBar(
    { format: 'seeding [{bar}] {percentage}% | {value}/{total} measures | {rate} rows/s | ETA {eta_formatted}', stream: process.stderr },
    Presets.shades_classic,
  );
  if (progress) bar.start(plan.measures, 0, { rate: 0 });
  const started = Date.now();
  const source = rows(plan, refs);
  let written = 0;
  const nextBatch = () => {
    // next() rather than for-of: breaking out of for-of would close the generator.
    const batch: MeasureRecord[] = [];
    for (let row = source.next(); !row.done; row = source.next()) {
      batch.push(row.value);
      if (batch.length === ROWS_PER_TRANSACTION) break;
    }
    return batch;
  };
  // Two writers keep MySQL busy while JavaScript builds the next statement.
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      for (let batch = nextBatch(); batch.length > 0; batch = nextBatch()) {
        await storage.transaction((connection) => measures.upsert(connection, batch, 2000));
        written += batch.length;
        const rate = Math.round(written / ((Date.now() - started) / 1000));
        if (progress) bar.update(written, { rate });
      }
    }),
  );
  if (progress) bar.stop();
  return written;
}

if (require.main === module) {
  const plan = seedPlan();
  useBenchEnvironment();
  const container = buildContainer(configOrExit());
  const started = Date.now();
  seed(container, plan)
    .then(async (written) => {
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `seeded ${written} measures into ${process.env.DB_DATABASE} in ${seconds.toFixed(1)} s (${Math.round(written / seconds)} rows/s)`,
      );
      await container.resolve(StorageConnector).close();
      await container.resolve(Logging).close();
    })
    .catch((error: Error) => {
      console.error(`seed failed: ${error.message}`);
      process.exit(1);
    });
}
