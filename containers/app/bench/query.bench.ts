import 'reflect-metadata';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { configOrExit } from '../src/cli/cli-context';
import { buildContainer } from '../src/container';
import { UserRepository } from '../src/storage/user.repository';
import { ExperimentRepository } from '../src/storage/experiment.repository';
import { MeasureRepository, SELECT_MEASURES, pageStatement } from '../src/storage/measure.repository';
import autocannon from 'autocannon';
import { APP_LOGGING, freePort, httpClient, startAppProcess, useBenchEnvironment } from './bench-env';
import { StorageConnector } from '../src/storage/storage-connector';
import { seed, seedExperimentId, seedPlan } from './seed';
import { cpuMeter, machineFacts, percentile, pidsNamed, table, withChildren, writeResults } from './stats';
import { signUp } from '../test/support/identities';
import { memoryMb, type AppProcess } from '../test/support/app-process';

/**
 * `npm run bench:query`: REST against the same query run directly, on seeded data.
 *   (a) one page of 1,000 raw measures over one day, newest first: REST against the
 *       app's own statement and against the same page with sensor names joined in SQL;
 *   (b) a 7-day hourly summary and (c) a 90-day daily summary, all sensors of
 *       one experiment (the repository's query vs REST);
 *   (d) CSV export of a whole experiment of 1M rows (EXPORT-01, seeded beside
 *       the others when missing): rows/s and the app's RSS growth;
 *   (e) load: GET a 100-row page at 50 connections for 20 s (autocannon),
 *       token verification and user lookup included; once on one process,
 *       once on a cluster of two (APP_WORKERS=2).
 * Prints a table and writes bench/results/query.json.
 */

const DAY = 86_400_000;
const EXPORT_ROWS = 1_000_000;

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
    { REST_PORT: String(port), ...APP_LOGGING },
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
  const experiments = container.resolve(ExperimentRepository);
  const countOf = async (experimentId: string) => {
    const experiment = await experiments.findById(experimentId);
    if (!experiment) return 0;
    const [[{ n }]] = (await direct.query('SELECT COUNT(*) AS n FROM measures WHERE experiment_ref = ?', [
      experiment.ref,
    ])) as unknown as [[{ n: number }]];
    return Number(n);
  };
  // (d) exports one experiment of 1M rows, seeded beside the others.
  const exportPlan = { ...plan, measures: EXPORT_ROWS, experiments: 1, prefix: 'EXPORT' };
  const exportId = seedExperimentId(0, exportPlan.prefix);
  const [[{ n: all }]] = (await direct.query('SELECT COUNT(*) AS n FROM measures')) as unknown as [[{ n: number }]];
  const exportRows = await countOf(exportId);
  const n = Number(all) - exportRows;
  if (n < plan.measures) {
    console.log(`the bench database holds ${n} measures; seeding ${plan.measures} first`);
    await seed(container, plan);
  }
  if (exportRows < EXPORT_ROWS) {
    console.log(`seeding ${EXPORT_ROWS} measures into ${exportId} for the export`);
    await seed(container, exportPlan);
  }

  // The reader is a scientist associated with the experiment: the full authorisation path.
  const identity = await signUp('bench');
  const experimentId = seedExperimentId(0);
  const experiment = await experiments.findById(experimentId);
  if (!experiment) throw new Error(`${experimentId} is missing: run npm run seed`);
  const users = container.resolve(UserRepository);
  const profile = { name: 'Bench', username: identity.uid, email: 'bench@mymonit.dev', role: 'SCIENTIST' as const };
  if (await users.findById('BENCH-SCIENTIST')) await users.update('BENCH-SCIENTIST', profile, new Date());
  else await users.insert('BENCH-SCIENTIST', profile, new Date());
  await experiments.associate(experiment.ref, 'BENCH-SCIENTIST', new Date());
  const exported = (await experiments.findById(exportId))!;
  await experiments.associate(exported.ref, 'BENCH-SCIENTIST', new Date());

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

  const machine = machineFacts();
  console.log(`${machine.cores} × ${machine.cpu}, reference loop ${machine.reference_loop_ms} ms`);
  const iterations = Number(values.iterations);
  const sql: number[] = [];
  const sqlWithNames: number[] = [];
  const rest: number[] = [];
  const health: number[] = [];
  const me: number[] = [];
  let rows = 0;
  for (let i = -20; i < iterations; i++) {
    const { from, to } = window(i + 20);
    const statement = pageStatement(experiment.ref, { from, to, order: 'desc', limit: 1000 }, null);
    // The same page with each row's sensor name joined in SQL: what a client of the database
    // runs for the rows the API returns (the app names sensors from a map of its own).
    const withNames = {
      sql: statement.sql.replace(
        SELECT_MEASURES,
        'SELECT m.ts, m.sensor_ref, s.sensor, m.value, m.unit, m.tags FROM measures m STRAIGHT_JOIN sensors s ON s.id = m.sensor_ref',
      ),
      params: statement.params,
    };
    if (withNames.sql === statement.sql) throw new Error('the page statement changed: update the bench');
    // Prepared, as the app runs them. The window is read once untimed first, so that no
    // case pays for bringing its pages into memory; the three cases take turns going first.
    await direct.execute(statement.sql, statement.params);
    const cases = [
      async () => {
        const ms = await timed(async () => {
          const [result] = await direct.execute(statement.sql, statement.params);
          rows = (result as unknown[]).length;
        });
        if (i >= 0) sql.push(ms);
      },
      async () => {
        const ms = await timed(() => direct.execute(withNames.sql, withNames.params));
        if (i >= 0) sqlWithNames.push(ms);
      },
      async () => {
        const ms = await timed(async () => {
          // Until the whole body has arrived; parsing it is the client's work, as row decoding is the driver's.
          const response = await http(`${path}?from=${from}&to=${to}&limit=1000`, headers);
          if (response.status !== 200) throw new Error(`REST answered ${response.status}: ${response.body.toString()}`);
        });
        if (i >= 0) rest.push(ms);
      },
    ];
    const turn = ((i % 3) + 3) % 3;
    for (const run of [...cases.slice(turn), ...cases.slice(0, turn)]) await run();
    const healthMs = await timed(() => http('/health'));
    const meMs = await timed(() => http('/me', headers));
    if (i >= 0) {
      health.push(healthMs);
      me.push(meMs);
    }
  }
  // (b), (c): the repository's summary query (what the service runs) vs the same over REST.
  const repository = container.resolve(MeasureRepository);
  const summaryCase = async (rangeDays: number, bucket: string, bucketMs: number, rounds: number) => {
    const to = Number(span.last) + 1;
    const from = to - rangeDays * DAY;
    const direct: number[] = [];
    const viaRest: number[] = [];
    let buckets = 0;
    for (let i = -3; i < rounds; i++) {
      const d = await timed(async () => {
        buckets = (await repository.summary(experiment.ref, { from, to }, bucketMs)).length;
      });
      const r = await timed(async () => {
        const response = await http(`${path}/summary?from=${from}&to=${to}&bucket=${bucket}`, headers);
        if (response.status !== 200) throw new Error(`REST answered ${response.status}: ${response.body.toString()}`);
      });
      if (i >= 0) {
        direct.push(d);
        viaRest.push(r);
      }
    }
    return { direct, viaRest, buckets };
  };
  const weekly = await summaryCase(7, '1h', 3_600_000, Math.min(iterations, 30));
  const quarterly = await summaryCase(90, '1d', DAY, Math.min(iterations, 10));

  // (d) CSV export of the whole export experiment (1M rows); the app's peak RSS from /proc.
  const memory = (field: 'VmRSS' | 'VmHWM') => memoryMb(app.child.pid!, field);
  const rssBefore = memory('VmRSS');
  let csvRows = 0;
  const csvMs = await timed(async () => {
    const response = await fetch(`http://127.0.0.1:${port}/experiments/${exportId}/measures`, {
      headers: { ...headers, accept: 'text/csv' },
    });
    if (!response.ok || !response.body) throw new Error(`CSV export answered ${response.status}`);
    for await (const chunk of response.body) {
      const bytes = chunk as Uint8Array;
      for (let k = 0; k < bytes.length; k++) if (bytes[k] === 10) csvRows++;
    }
    csvRows -= 1; // the header line
  });
  const rssPeak = memory('VmHWM');

  // (e) load at 50 connections for 20 s on a 100-row page: the one process measured
  // so far, then a cluster of two workers (APP_WORKERS=2), warmed up for 3 s first.
  const { from: loadFrom, to: loadTo } = window(0);
  // CPU µs per request of the app (every process of it), MariaDB and the load generator (this process).
  const loadOn = async (appProcess: AppProcess, appPort: number, seconds: number) => {
    const cpu = cpuMeter({ app: withChildren(appProcess.child.pid!), database: pidsNamed(['mariadbd', 'mysqld']), load: [process.pid] });
    const load = await autocannon({
      url: `http://127.0.0.1:${appPort}${path}?from=${loadFrom}&to=${loadTo}&limit=100`,
      connections: 50,
      duration: seconds,
      headers,
    });
    if (load.non2xx > 0 || load.errors > 0) throw new Error(`load: ${load.non2xx} non-2xx answers, ${load.errors} errors`);
    return { ...load, cpuUsPerRequest: cpu(load.requests.total) };
  };
  const loadSeconds = Number(process.env.BENCH_LOAD_SECONDS ?? 20);
  const load = await loadOn(app, port, loadSeconds);
  await app.stop();
  const clusterPort = await freePort();
  const clustered = await startAppProcess({ REST_PORT: String(clusterPort), APP_WORKERS: '2', ...APP_LOGGING }, [], true);
  await loadOn(clustered, clusterPort, 3);
  const clusterLoad = await loadOn(clustered, clusterPort, loadSeconds);
  await clustered.stop();

  const summary = (samples: number[]) => ({
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
    p99: percentile(samples, 99),
  });
  const result = {
    benchmark: 'query',
    date: new Date().toISOString(),
    machine,
    measures_in_table: Math.max(n, plan.measures) + EXPORT_ROWS,
    iterations,
    rows_per_page: rows,
    a_page_1000_rows_one_day: {
      sql_ms: summary(sql),
      sql_with_sensor_names_ms: summary(sqlWithNames),
      rest_ms: summary(rest),
      rest_over_sql_p50: percentile(rest, 50) / percentile(sql, 50),
      rest_over_sql_with_sensor_names_p50: percentile(rest, 50) / percentile(sqlWithNames, 50),
      target: 'REST p50 <= 2x SQL p50',
    },
    b_summary_7_days_hourly: {
      buckets: weekly.buckets,
      repository_ms: summary(weekly.direct),
      rest_ms: summary(weekly.viaRest),
      target: 'REST p50 <= 50 ms at 10M rows',
    },
    c_summary_90_days_daily: {
      buckets: quarterly.buckets,
      repository_ms: summary(quarterly.direct),
      rest_ms: summary(quarterly.viaRest),
      target: 'REST p50 <= 50 ms at 10M rows',
    },
    d_csv_export: {
      rows: csvRows,
      seconds: csvMs / 1000,
      rows_per_second: Math.round(csvRows / (csvMs / 1000)),
      app_rss_mb_before: Math.round(rssBefore),
      app_rss_mb_peak: Math.round(rssPeak),
      app_rss_growth_mb: Math.round(rssPeak - rssBefore),
      target: '>= 200k rows/s, RSS growth <= 100 MB',
    },
    e_load_100_row_page_50_connections: {
      seconds: load.duration,
      requests_per_second: Math.round(load.requests.average),
      latency_ms: { p50: load.latency.p50, p99: load.latency.p99 },
      cpu_us_per_request: load.cpuUsPerRequest,
      two_workers: {
        seconds: clusterLoad.duration,
        requests_per_second: Math.round(clusterLoad.requests.average),
        latency_ms: { p50: clusterLoad.latency.p50, p99: clusterLoad.latency.p99 },
        cpu_us_per_request: clusterLoad.cpuUsPerRequest,
      },
      target: '>= 2,000 req/s, p99 <= 100 ms',
    },
    fixed_costs_ms: { health: summary(health), me_with_auth: summary(me) },
  };
  type Percentiles = { p50: number; p99: number };
  const row = (label: string, direct: Percentiles, rest: Percentiles) => [label, direct.p50, rest.p50, direct.p99, rest.p99, rest.p50 / direct.p50];
  console.log(
    table(
      ['case', 'SQL p50 ms', 'REST p50 ms', 'SQL p99 ms', 'REST p99 ms', 'REST/SQL p50'],
      [
        row(`(a) page of ${rows} rows, 1 day`, result.a_page_1000_rows_one_day.sql_ms, result.a_page_1000_rows_one_day.rest_ms),
        row(`(a) the same, SQL joining sensor names`, result.a_page_1000_rows_one_day.sql_with_sensor_names_ms, result.a_page_1000_rows_one_day.rest_ms),
        row(`(b) 7 days hourly, ${weekly.buckets} buckets`, result.b_summary_7_days_hourly.repository_ms, result.b_summary_7_days_hourly.rest_ms),
        row(`(c) 90 days daily, ${quarterly.buckets} buckets`, result.c_summary_90_days_daily.repository_ms, result.c_summary_90_days_daily.rest_ms),
        ['GET /health (HTTP alone)', '', result.fixed_costs_ms.health.p50, '', result.fixed_costs_ms.health.p99, ''],
        ['GET /me (HTTP + auth + user)', '', result.fixed_costs_ms.me_with_auth.p50, '', result.fixed_costs_ms.me_with_auth.p99, ''],
      ],
    ),
  );
  const d = result.d_csv_export;
  const e = result.e_load_100_row_page_50_connections;
  console.log(
    `(d) CSV export: ${d.rows} rows in ${d.seconds.toFixed(1)} s = ${d.rows_per_second} rows/s; app RSS ${d.app_rss_mb_before} → peak ${d.app_rss_mb_peak} MB (+${d.app_rss_growth_mb} MB)`,
  );
  const cpuText = (c: { app: number; database: number; load: number }) => `CPU µs per request: app ${c.app}, MariaDB ${c.database}, autocannon ${c.load}`;
  console.log(
    `(e) load, 100-row page, 50 connections, ${e.seconds} s: ${e.requests_per_second} req/s, p50 ${e.latency_ms.p50} ms, p99 ${e.latency_ms.p99} ms; ${cpuText(e.cpu_us_per_request)}`,
  );
  const e2 = e.two_workers;
  console.log(
    `    the same, APP_WORKERS=2: ${e2.requests_per_second} req/s, p50 ${e2.latency_ms.p50} ms, p99 ${e2.latency_ms.p99} ms; ${cpuText(e2.cpu_us_per_request)}`,
  );
  writeResults('query.json', result);
  await direct.end();
  await container.resolve(StorageConnector).close();
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(`bench:query failed: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);
