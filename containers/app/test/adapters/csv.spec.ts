import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/amqp';
import { captureChildOutput } from '../support/log-capture';
import { startTestApp, type TestApp } from '../support/test-app';
import { createAdmin, createExperiment, type Person } from '../support/world';

const csvPackage = join(__dirname, '..', '..', '..', '..', 'adapters', 'csv');
const T0 = Date.parse('2026-11-23T10:00:00.000Z');

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Starts the mymonit-csv command from its sources, as a separate process (the
 * app under test keeps consuming in this one meanwhile).
 */
function start(args: string[], input?: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', join('src', 'cli.ts'), ...args], {
    cwd: csvPackage,
    env: { PATH: process.env.PATH },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(input);
  const done = new Promise<Run>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      captureChildOutput(stdout + stderr);
      resolve({ status, signal, stdout, stderr });
    });
  });
  return { child, done };
}

const run = (args: string[], input?: string) => start(args, input).done;

interface Stored {
  sensor: string;
  timestamp: string;
  value: number;
  unit: string | null;
  tags: Record<string, string> | null;
}

describe('mymonit-csv against the app', () => {
  let app: TestApp;
  let admin: Person;
  let dir: string;
  let broker: string[];

  const sensorCounts = async (prefix: string): Promise<Map<string, number>> => {
    const response = await app.api.get('/experiments/EXP-CSV/sensors', { token: admin.token });
    assert.equal(response.status, 200, response.text);
    const items = response.body.items as { sensor: string; count: number }[];
    return new Map(items.filter((i) => i.sensor.startsWith(prefix)).map((i) => [i.sensor, i.count]));
  };
  const storedCount = async (prefix: string) => [...(await sensorCounts(prefix)).values()].reduce((a, b) => a + b, 0);
  const measures = async (sensors: string[]): Promise<Stored[]> => {
    const query = new URLSearchParams({ limit: '10000', order: 'asc' });
    for (const sensor of sensors) query.append('sensor', sensor);
    const response = await app.api.get(`/experiments/EXP-CSV/measures?${query.toString()}`, { token: admin.token });
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.next_cursor, null);
    return response.body.items as Stored[];
  };

  before(async () => {
    app = await startTestApp();
    admin = await createAdmin(app);
    await createExperiment(app, admin, 'EXP-CSV');
    await eventually(async () => (await app.api.get('/ready')).status === 200, 10_000, 'ready');
    dir = mkdtempSync(join(tmpdir(), 'mymonit-csv-e2e-'));
    broker = ['--url', app.config.rabbit.url, '--exchange', app.config.rabbit.exchange, '--routing-key', app.config.rabbit.routingKey];
  });
  after(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await app?.stop();
  });

  it('When a long CSV file of 2,000 rows is published, then it exits 0 and every measure is queryable with its values', async () => {
    const sensors = ['long/a', 'long/b', 'long/c', 'long/d'];
    const rows = Array.from({ length: 2000 }, (_, i) => ({
      sensor: sensors[i % 4],
      // Both timestamp forms: ISO text and epoch milliseconds.
      timestamp: i % 2 ? new Date(T0 + i * 1000).toISOString() : String(T0 + i * 1000),
      value: i * 0.25 - 100,
      run: String(Math.floor(i / 500)),
    }));
    const file = join(dir, 'long.csv');
    writeFileSync(
      file,
      ['experiment_id,sensor,value,timestamp,unit,run', ...rows.map((r) => `EXP-CSV,${r.sensor},${r.value},${r.timestamp},K,${r.run}`)].join('\n'),
    );

    const result = await run([file, ...broker, '--tag-columns', 'run']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /^published 2000 measures from 2000 rows in [\d.]+ s \(\d+ rows\/s\)$/m);
    assert.equal(existsSync(`${file}.mymonit-checkpoint`), false, 'the checkpoint is deleted once the file is sent');

    await eventually(async () => (await storedCount('long/')) === 2000, 30_000, '2,000 measures stored');
    const stored = await measures(sensors);
    assert.equal(stored.length, 2000);
    const expected = new Map(rows.map((r, i) => [`${r.sensor}@${new Date(T0 + i * 1000).toISOString()}`, r]));
    for (const measure of stored) {
      const row = expected.get(`${measure.sensor}@${measure.timestamp}`);
      assert.ok(row, `unexpected ${measure.sensor} at ${measure.timestamp}`);
      assert.deepEqual({ value: measure.value, unit: measure.unit, tags: measure.tags }, { value: row.value, unit: 'K', tags: { run: row.run } });
    }
  });

  it('When a wide CSV comes on stdin, then each non-empty sensor cell is one measure of that sensor', async () => {
    const lines = ['time,wide/t1,wide/t2,wide/p'];
    for (let i = 0; i < 300; i++) {
      lines.push(`${new Date(T0 + i * 60_000).toISOString()},${(4 + i / 100).toFixed(2)},${i % 3 === 0 ? '' : i},${1013 + i}`);
    }
    const result = await run(
      ['-', ...broker, '--experiment', 'EXP-CSV', '--timestamp-column', 'time', '--sensor-columns', 'wide/t1,wide/t2,wide/p', '--unit', 'K'],
      `${lines.join('\r\n')}\r\n`,
    );
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /^published 800 measures from 300 rows in /m);

    const expected = new Map([
      ['wide/t1', 300],
      ['wide/t2', 200],
      ['wide/p', 300],
    ]);
    await eventually(async () => (await storedCount('wide/')) === 800, 20_000, '800 wide measures stored');
    assert.deepEqual(await sensorCounts('wide/'), expected);
    const [first] = await measures(['wide/t1']);
    assert.deepEqual(first, {
      experiment_id: 'EXP-CSV',
      sensor: 'wide/t1',
      timestamp: new Date(T0).toISOString(),
      value: 4,
      unit: 'K',
      tags: null,
    });
  });

  it('When a 20,000-row run is killed after a checkpoint and rerun, then it resumes and every row is stored exactly once', async () => {
    const file = join(dir, 'resume.csv');
    const checkpoint = `${file}.mymonit-checkpoint`;
    const rows = 20_000;
    const lines = ['experiment_id,sensor,value,timestamp'];
    for (let i = 0; i < rows; i++) lines.push(`EXP-CSV,resume/${i % 5},${i},${T0 + i}`);
    writeFileSync(file, `${lines.join('\n')}\n`);

    // Small chunks make the first run long enough to be killed halfway.
    const first = start([file, ...broker, '--batch-size', '20']);
    let killedAt = 0;
    const watcher = setInterval(() => {
      if (killedAt || !existsSync(checkpoint)) return;
      try {
        const line = (JSON.parse(readFileSync(checkpoint, 'utf8')) as { line: number }).line;
        if (line > 2000) {
          killedAt = line;
          first.child.kill('SIGKILL');
        }
      } catch {
        // Never half-written (write + rename), but it may vanish when the run completes.
      }
    }, 10);
    const killed = await first.done;
    clearInterval(watcher);
    assert.equal(killed.signal, 'SIGKILL', `the first run should have been killed, it ended: ${killed.status} ${killed.stderr}`);

    const saved = JSON.parse(readFileSync(checkpoint, 'utf8')) as { line: number; size: number };
    assert.ok(saved.line >= killedAt && saved.line < rows + 1, `checkpoint at line ${saved.line}`);

    const second = await run([file, ...broker]);
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stderr, new RegExp(`^resuming after line ${saved.line}$`, 'm'));
    const remaining = rows + 1 - saved.line;
    assert.match(second.stderr, new RegExp(`^published ${remaining} measures from ${remaining} rows in `, 'm'));
    assert.equal(existsSync(checkpoint), false);

    await eventually(async () => (await storedCount('resume/')) === rows, 60_000, `${rows} resumed measures stored`);
    // Whatever was still queued has been stored by now: the count stays exact.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const counts = await sensorCounts('resume/');
    assert.deepEqual([...counts.values()], [4000, 4000, 4000, 4000, 4000]);
  });

  it('When a file has a bad row and no --skip-invalid, then it exits 2 and nothing of the file is stored', async () => {
    const file = join(dir, 'bad.csv');
    writeFileSync(
      file,
      [
        'experiment_id,sensor,value,timestamp',
        ...Array.from({ length: 50 }, (_, i) => `EXP-CSV,bad/x,${i},${T0 + i}`),
        'EXP-CSV,bad/x,NaN,2026-11-23T11:00:00Z',
        ...Array.from({ length: 50 }, (_, i) => `EXP-CSV,bad/x,${i},${T0 + 100 + i}`),
      ].join('\n'),
    );
    const result = await run([file, ...broker]);
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /^line 52: value: Invalid input: expected number, received string \(got "NaN"\)$/m);
    assert.match(result.stderr, /1 of 101 rows invalid: nothing sent/);

    // A later file goes through the same queue: once it is stored, anything sent before would be too.
    const marker = join(dir, 'marker.csv');
    writeFileSync(marker, `experiment_id,sensor,value,timestamp\nEXP-CSV,bad/marker,1,${T0}\n`);
    assert.equal((await run([marker, ...broker])).status, 0);
    await eventually(async () => (await sensorCounts('bad/')).has('bad/marker'), 20_000, 'marker stored');
    assert.equal((await sensorCounts('bad/')).has('bad/x'), false);
  });
});
