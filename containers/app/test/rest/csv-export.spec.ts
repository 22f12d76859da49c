import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { memoryMb, startAppProcess, type AppProcess } from '../support/app-process';
import { metricIn } from '../support/metrics';
import { startTestApp, testEnvironment, type TestApp } from '../support/test-app';
import { T0, createAdmin, createExperiment, storeMeasures, type Person } from '../support/world';

/**
 * CSV export of 1M measures from an app in a process of its own: the rows
 * stream from MySQL to the socket with back-pressure, so the app's memory
 * stays flat however large the export and however slow the client.
 */
const ROWS = 1_000_000;
const SENSORS = 20;

describe('CSV export of 1M measures', () => {
  let app: TestApp;
  let exporter: AppProcess;
  let admin: Person;

  before(async () => {
    app = await startTestApp();
    admin = await createAdmin(app);
    await createExperiment(app, admin, 'EXP-BIG');
    for (let start = 0; start < ROWS; start += 100_000) {
      await storeMeasures(
        app,
        'EXP-BIG',
        Array.from({ length: 100_000 }, (_, k) => {
          const i = start + k;
          return { sensor: `s${i % SENSORS}`, timestamp: T0 + Math.floor(i / SENSORS) * 1000, value: i / 7, unit: 'V', tags: null };
        }),
      );
    }
    // A second instance on the same database: its memory is the export's alone.
    exporter = await startAppProcess(
      testEnvironment({
        LOG_LEVEL: 'warn',
        DB_DATABASE: app.config.db.database,
        RABBIT_EXCHANGE: app.config.rabbit.exchange,
        RABBIT_QUEUE: app.config.rabbit.queue,
      }),
    );
  });
  after(async () => {
    await exporter?.stop();
    await app?.stop();
  });

  it('When a slow client downloads 1M rows, then every row arrives and the app stays within 100 MB of where it started', async () => {
    const pid = exporter.child.pid!;
    await fetch(`${exporter.baseUrl}/health`);
    const before = memoryMb(pid, 'VmRSS');
    const response = await fetch(`${exporter.baseUrl}/experiments/EXP-BIG/measures?order=asc`, {
      headers: { authorization: `Bearer ${admin.token}`, accept: 'text/csv' },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-length'), null, 'streamed, not buffered');
    const reader = response.body!.getReader();
    let lines = 0;
    let bytes = 0;
    let paused = false;
    let duringPause = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
      for (const byte of value) if (byte === 10) lines++;
      if (!paused && bytes > 1_000_000) {
        // The client stops reading: with back-pressure the app stops reading MySQL too.
        paused = true;
        await sleep(1_500);
        duringPause = memoryMb(pid, 'VmRSS') - before;
      }
    }
    const peak = memoryMb(pid, 'VmHWM') - before;
    console.log(`CSV export: ${lines - 1} rows, ${(bytes / 1e6).toFixed(0)} MB; app RSS ${before.toFixed(0)} MB, +${duringPause.toFixed(0)} MB during the pause, peak +${peak.toFixed(0)} MB`);
    assert.equal(lines, ROWS + 1, 'a header and one line per measure');
    assert.ok(duringPause < 60, `the app grew ${duringPause.toFixed(0)} MB while the client paused`);
    assert.ok(peak < 100, `the app's peak grew ${peak.toFixed(0)} MB over ${(bytes / 1e6).toFixed(0)} MB of CSV`);
  });

  it('When clients hang up in the middle of exports, more of them than the pool has connections, then each connection is freed and the app answers at once', async () => {
    const poolSize = 10; // DB_POOL_SIZE's default, which the exporter runs with
    for (let i = 0; i < poolSize + 3; i++) {
      const abort = new AbortController();
      const response = await fetch(`${exporter.baseUrl}/experiments/EXP-BIG/measures`, {
        headers: { authorization: `Bearer ${admin.token}`, accept: 'text/csv' },
        signal: abort.signal,
      });
      const reader = response.body!.getReader();
      await reader.read();
      abort.abort();
    }
    // A leaked (half-read) connection per export would stay checked out for good.
    const started = Date.now();
    let pool = await queryPool();
    while (pool.in_use + pool.waiting > 0 && Date.now() - started < 30_000) {
      await sleep(100);
      pool = await queryPool();
    }
    console.log(`after ${poolSize + 3} hang-ups the query pool was back to idle in ${Date.now() - started} ms: ${JSON.stringify(pool)}`);
    assert.deepEqual({ in_use: pool.in_use, waiting: pool.waiting }, { in_use: 0, waiting: 0 }, 'every connection of the hung-up exports is back');
    const asked = Date.now();
    const page = await fetch(`${exporter.baseUrl}/experiments/EXP-BIG/measures?limit=5`, {
      headers: { authorization: `Bearer ${admin.token}` },
      signal: AbortSignal.timeout(30_000),
    });
    assert.equal(page.status, 200);
    assert.equal(((await page.json()) as { items: unknown[] }).items.length, 5);
    assert.ok(Date.now() - asked < 5_000, `a 5-row page took ${Date.now() - asked} ms`);
  });

  /** The exporter's query pool, from its /metrics. */
  async function queryPool(): Promise<Record<'in_use' | 'idle' | 'waiting', number>> {
    const text = await (await fetch(`${exporter.baseUrl}/metrics`)).text();
    const value = (state: string) => metricIn(text, 'mymonit_db_pool_connections', { pool: 'queries', state });
    return { in_use: value('in_use'), idle: value('idle'), waiting: value('waiting') };
  }
});
