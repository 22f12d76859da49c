import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { AmqpClient, eventually } from '../support/amqp';
import { freePort } from '../support/app-process';
import { startTestApp, type TestApp } from '../support/test-app';
import { asSent, queries } from '../support/grafana-dashboard';

/**
 * Debian's Prometheus server on loopback, scraping a real app every second
 * and evaluating the shipped rules (containers/prometheus/alerts.yml), with a
 * second target where nothing listens; then every query of the Grafana
 * dashboard (containers/grafana) run by it.
 */
const rulesFile = join(__dirname, '..', '..', '..', 'prometheus', 'alerts.yml');
const PROMETHEUS = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find((path) => existsSync(path));
if (!PROMETHEUS) console.warn('\n*** prometheus is not installed: the scrape and alert tests are SKIPPED (.ci/run installs it with apt) ***\n');

interface Alert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}

describe('Prometheus scraping the app with the shipped alerting rules', { skip: !PROMETHEUS && 'prometheus is not installed' }, () => {
  let app: TestApp;
  let amqp: AmqpClient;
  let prometheus: ChildProcess;
  let output = '';
  let dir: string;
  let url: string;
  let appTarget: string;
  let downTarget: string;

  const query = async (promql: string) => {
    const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    assert.equal(body.status, 'success', `${promql}: ${JSON.stringify(body)}`);
    return body.data.result;
  };
  const alerts = async () => {
    const body = (await (await fetch(`${url}/api/v1/alerts`)).json()) as { data: { alerts: Alert[] } };
    return body.data.alerts;
  };

  before(async () => {
    app = await startTestApp();
    amqp = await AmqpClient.connect(app.config);
    dir = mkdtempSync(join(tmpdir(), 'mymonit-prometheus-'));
    appTarget = new URL(app.baseUrl).host;
    downTarget = `127.0.0.1:${await freePort()}`; // nothing listens there
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: [rulesFile],
        scrape_configs: [{ job_name: 'mymonit', static_configs: [{ targets: [appTarget, downTarget] }] }],
      }),
    );
    prometheus = spawn(
      PROMETHEUS!,
      [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (d: Buffer) => (output += String(d)));
    prometheus.stderr!.on('data', (d: Buffer) => (output += String(d)));
    await eventually(async () => (await fetch(`${url}/-/ready`).catch(() => null))?.ok === true, 30_000, `Prometheus ready:\n${output}`);
  });

  after(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    await amqp?.close();
    await app?.stop();
  });

  it('When Prometheus scrapes, then the app is up with its own labels, the silent target down', async () => {
    await eventually(async () => (await query('up{job="mymonit"}')).length === 2, 20_000, 'both targets scraped');
    const up = Object.fromEntries((await query('up{job="mymonit"}')).map((r) => [r.metric.instance, r.value[1]]));
    assert.deepEqual(up, { [appTarget]: '1', [downTarget]: '0' });
    await eventually(async () => (await query(`mymonit_ingest_prefetch{instance="${appTarget}"} > 0`)).length === 1, 20_000, 'the app consuming');
    const [prefetch] = await query(`mymonit_ingest_prefetch{instance="${appTarget}"}`);
    assert.equal(prefetch.metric.service, 'mymonit');
    assert.equal(prefetch.metric.job, 'mymonit');
  });

  it('When the first message an instance receives is dead-lettered, then MyMONITMessagesDeadLettered fires for that instance', async () => {
    // Scraped a few times first, as a running instance is; the counter must be there at 0
    // before its first increment, or increase() cannot see that one.
    await eventually(async () => Number((await query(`count_over_time(up{instance="${appTarget}"}[1m])`))[0]?.value[1] ?? 0) >= 3, 20_000, 'three scrapes');
    await amqp.publish(['{"not json']);
    await eventually(async () => (await amqp.drainDeadLetters()).length === 1, 15_000, 'the message dead-lettered');
    await eventually(
      async () => (await alerts()).some((a) => a.labels.alertname === 'MyMONITMessagesDeadLettered' && a.labels.instance === appTarget && a.state === 'firing'),
      20_000,
      'MyMONITMessagesDeadLettered firing',
    );
    const firingForApp = (await alerts()).filter((a) => a.labels.instance === appTarget && a.state === 'firing').map((a) => a.labels.alertname);
    assert.deepEqual(firingForApp, ['MyMONITMessagesDeadLettered'], 'nothing else fires for a healthy instance');
  });

  it('When a target does not answer, then MyMONITInstanceDown is pending for it alone (it fires after 2 minutes)', async () => {
    await eventually(
      async () => (await alerts()).some((a) => a.labels.alertname === 'MyMONITInstanceDown' && a.labels.instance === downTarget),
      20_000,
      'MyMONITInstanceDown pending',
    );
    const down = (await alerts()).filter((a) => a.labels.alertname === 'MyMONITInstanceDown');
    assert.deepEqual(
      down.map((a) => [a.labels.instance, a.state, a.labels.severity]),
      [[downTarget, 'pending', 'critical']],
    );
  });

  it('When the Grafana dashboard queries this Prometheus, then every query runs and every panel shows numbers', async () => {
    // What every panel needs to show something within its rate window: answers, a refused
    // sign-in, a batch, an alert firing (a dead-lettered message, as above).
    assert.equal((await fetch(`${app.baseUrl}/health`)).status, 200);
    assert.equal((await fetch(`${app.baseUrl}/me`)).status, 401);
    await amqp.publish(['{"not json']);
    await eventually(async () => (await amqp.drainDeadLetters()).length === 1, 15_000, 'the message dead-lettered');
    /** Series a healthy instance has none of: one per MySQL error code, from the first batch MySQL refuses. */
    const onlyAfterAFault = ['mymonit_ingest_store_retries_total'];
    const faultOnly = (expr: string) => onlyAfterAFault.some((metric) => expr.includes(metric));
    for (const { expr } of queries.filter((q) => faultOnly(q.expr))) await query(asSent(expr)); // asserts that Prometheus ran it
    // The others (run below, asserted alike): rate() needs two samples of a series, and a labelled
    // series is born at its first increment, so wait for a number per query (a route not asked
    // for a minute has a latency of NaN).
    const shown = queries.filter((q) => !faultOnly(q.expr));
    let blank: string[] = [];
    const deadline = Date.now() + 30_000;
    do {
      blank = [];
      for (const { panel, refId, expr } of shown) {
        const values = (await query(asSent(expr))).map((r) => Number(r.value[1]));
        if (!values.some(Number.isFinite)) blank.push(`${panel} ${refId}: ${JSON.stringify(values)}`);
      }
      if (blank.length > 0) await new Promise((r) => setTimeout(r, 500));
    } while (blank.length > 0 && Date.now() < deadline);
    assert.deepEqual(blank, [], 'panels without a number after 30 s');
  });
});
