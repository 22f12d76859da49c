import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { configOrExit } from '../src/cli/cli-context';
import { buildContainer } from '../src/container';
import { UserRepository } from '../src/storage/user.repository';
import { ExperimentRepository } from '../src/storage/experiment.repository';
import { pageStatement } from '../src/storage/measure.repository';
import { freePort, httpClient, startAppProcess, useBenchEnvironment } from './bench-env';
import { StorageConnector } from '../src/storage/storage-connector';
import { seed, seedExperimentId, seedPlan } from './seed';
import { percentile, table } from './stats';
import { signUp } from '../test/support/identities';

/**
 * `npm run bench:query`: REST against the same SQL run directly, on seeded data.
 *   (a) one page of 1,000 raw measures over one day, newest first.
 * Prints a table and writes bench/results/query.json.
 */

const DAY = 86_400_000;

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

async function main() {
  const { values } = parseArgs({
    options: { measures: { type: 'string', default: '1000000' }, iterations: { type: 'string', default: '300' } },
  });
  useBenchEnvironment();
  if (!process.env.FIREBASE_AUTH_EMULATOR_HOST) throw new Error('run through `npm run bench:query`');
  const config = configOrExit();
  const container = buildContainer(config);
  const port = await freePort();
  // The app runs in its own process, as in production; this process is its client.
  const app = await startAppProcess(
    { REST_PORT: String(port) },
    process.env.BENCH_APP_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_APP_CPU_PROFILE}`] : [],
    true,
  );

  const plan = seedPlan(['--measures', values.measures]);
  const direct = await mysql.createConnection({
    host: config.db.host,
    port: config.db.port,
    user: config.db.user,
    password: config.db.password,
    database: config.db.database,
    timezone: 'Z',
    supportBigNumbers: true,
  });
  const [[{ n }]] = (await direct.query('SELECT COUNT(*) AS n FROM measures')) as unknown as [[{ n: number }]];
  if (Number(n) < plan.measures) {
    console.log(`the bench database holds ${n} measures; seeding ${plan.measures} first`);
    await seed(container, plan);
  }

  // The reader is a scientist associated with the experiment: the full authorisation path.
  const identity = await signUp('bench');
  const experimentId = seedExperimentId(0);
  const experiments = container.resolve(ExperimentRepository);
  const experiment = await experiments.findById(experimentId);
  if (!experiment) throw new Error(`${experimentId} is missing: run npm run seed`);
  const users = container.resolve(UserRepository);
  const profile = { name: 'Bench', username: identity.uid, email: 'bench@mymonit.dev', role: 'SCIENTIST' as const };
  if (await users.findById('BENCH-SCIENTIST')) await users.update('BENCH-SCIENTIST', profile, new Date());
  else await users.insert('BENCH-SCIENTIST', profile, new Date());
  await experiments.associate(experiment.ref, 'BENCH-SCIENTIST', new Date());

  const [[span]] = (await direct.query('SELECT MIN(ts) AS first, MAX(ts) AS last FROM measures WHERE experiment_ref = ?', [
    experiment.ref,
  ])) as unknown as [[{ first: number; last: number }]];
  const days = Math.max(1, Math.floor((Number(span.last) - Number(span.first)) / DAY));
  const window = (i: number) => {
    const to = Number(span.last) + 1 - (i % days) * DAY;
    return { from: to - DAY, to };
  };
  const http = httpClient(`http://127.0.0.1:${port}`);
  const path = `/experiments/${experimentId}/measures`;
  const headers = { authorization: `Bearer ${identity.idToken}` };

  const iterations = Number(values.iterations);
  const sql: number[] = [];
  const rest: number[] = [];
  const health: number[] = [];
  const me: number[] = [];
  let rows = 0;
  for (let i = -20; i < iterations; i++) {
    const { from, to } = window(i + 20);
    const statement = pageStatement(experiment.ref, { from, to, order: 'desc', limit: 1000 }, null);
    const sqlMs = await timed(async () => {
      const [result] = await direct.query(statement.sql, statement.params);
      rows = (result as unknown[]).length;
    });
    const restMs = await timed(async () => {
      // Until the whole body has arrived; parsing it is the client's work, as row decoding is the driver's.
      const response = await http(`${path}?from=${from}&to=${to}&limit=1000`, headers);
      if (response.status !== 200) throw new Error(`REST answered ${response.status}: ${response.body.toString()}`);
    });
    const healthMs = await timed(() => http('/health'));
    const meMs = await timed(() => http('/me', headers));
    if (i >= 0) {
      sql.push(sqlMs);
      rest.push(restMs);
      health.push(healthMs);
      me.push(meMs);
    }
  }
  const summary = (samples: number[]) => ({
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
    p99: percentile(samples, 99),
  });
  const result = {
    benchmark: 'query',
    date: new Date().toISOString(),
    measures_in_table: Number(n) < plan.measures ? plan.measures : Number(n),
    iterations,
    rows_per_page: rows,
    a_page_1000_rows_one_day: {
      sql_ms: summary(sql),
      rest_ms: summary(rest),
      rest_over_sql_p50: percentile(rest, 50) / percentile(sql, 50),
      target: 'REST p50 <= 2x SQL p50',
    },
    fixed_costs_ms: { health: summary(health), me_with_auth: summary(me) },
  };
  console.log(
    table(
      ['case', 'SQL p50 ms', 'REST p50 ms', 'SQL p99 ms', 'REST p99 ms', 'REST/SQL p50'],
      [
        [
          `(a) page of ${rows} rows, 1 day`,
          result.a_page_1000_rows_one_day.sql_ms.p50,
          result.a_page_1000_rows_one_day.rest_ms.p50,
          result.a_page_1000_rows_one_day.sql_ms.p99,
          result.a_page_1000_rows_one_day.rest_ms.p99,
          result.a_page_1000_rows_one_day.rest_over_sql_p50,
        ],
        ['GET /health (HTTP alone)', '', result.fixed_costs_ms.health.p50, '', result.fixed_costs_ms.health.p99, ''],
        ['GET /me (HTTP + auth + user)', '', result.fixed_costs_ms.me_with_auth.p50, '', result.fixed_costs_ms.me_with_auth.p99, ''],
      ],
    ),
  );
  const out = join(__dirname, 'results', 'query.json');
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`written to ${out}`);
  await direct.end();
  await app.stop();
  await container.resolve(StorageConnector).close();
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(`bench:query failed: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);
