import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const packageDir = join(__dirname, '..');
/** Nothing listens there: a run that tried to connect would fail with status 1, not 2. */
const NO_BROKER = 'amqp://guest:guest@127.0.0.1:1';

function run(args: string[], input?: string) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join('src', 'cli.ts'), ...args], {
    cwd: packageDir,
    input,
    encoding: 'utf8',
    env: { PATH: process.env.PATH },
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('mymonit-csv command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mymonit-csv-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('When --dry-run meets bad rows, then it prints each with its line, exits 2 and publishes nothing', () => {
    const path = file(
      'bad.csv',
      [
        'experiment_id,sensor,value,timestamp,unit',
        'EXP-1,magnet/temp,4.21,2026-11-23T10:00:00Z,K',
        'EXP-1,magnet/temp,four,2026-11-23T10:00:01Z,K',
        '',
        'EXP-1,magnet temp,4.23,2026-11-23T10:00:02Z,K',
        'EXP-1,magnet/temp,4.24,1795428000123.5,K',
        'EXP-1,magnet/temp,4.25,1795428000124,K',
      ].join('\n'),
    );
    const result = run([path, '--dry-run', '--url', NO_BROKER]);
    assert.equal(result.status, 2, result.stderr);
    assert.equal(result.stdout, '');
    assert.deepEqual(result.stderr.trim().split('\n'), [
      'line 3: value: Invalid input: expected number, received string (got "four")',
      'line 5: sensor: must be 1-128 characters of A-Z a-z 0-9 . _ : / - (got "magnet temp")',
      'line 6: timestamp: epoch milliseconds must be an integer (got "1795428000123.5")',
      '3 of 5 rows invalid',
    ]);
    assert.deepEqual(readdirSync(dir), ['bad.csv'], 'no checkpoint written');
  });

  it('When bad rows are found without --dry-run or --skip-invalid, then nothing is sent: it exits 2 before connecting', () => {
    const result = run([join(dir, 'bad.csv'), '--url', NO_BROKER]);
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /^line 3: value: /m);
    assert.match(result.stderr, /3 of 5 rows invalid: nothing sent/);
    assert.doesNotMatch(result.stderr, /connect/);
  });

  it('When --dry-run meets a valid wide file, then it counts rows and measures and exits 0', () => {
    const path = file('wide.csv', 'time,t1,t2,p\n2026-11-23T10:00:00Z,1,2,3\n2026-11-23T10:00:01Z,1,,3\n1795428000000,,,\n');
    const result = run([path, '--dry-run', '--url', NO_BROKER, '--experiment', 'EXP-W', '--timestamp-column', 'time', '--sensor-columns', 't1,t2,p']);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, '3 rows, 5 measures valid\n');
  });

  it('When --dry-run reads JSON Lines from stdin, then bad lines are named and it exits 2', () => {
    const jsonl = [
      '{"exp":"EXP-J","sensor":"s","value":1,"timestamp":1795428000000}',
      '{"exp":"EXP-J","sensor":"s","value":"2","timestamp":"1795428000001"}',
      'not json',
      '{"exp":"EXP-J","sensor":"s","timestamp":1795428000002}',
    ].join('\n');
    const result = run(['-', '--format', 'jsonl', '--experiment-column', 'exp', '--dry-run'], jsonl);
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /^line 3: \(row\): not valid JSON/m);
    assert.match(result.stderr, /^line 4: value: Invalid input: expected number, received undefined \(missing\)$/m);
    assert.match(result.stderr, /2 of 4 rows invalid/);
  });

  it('When the header lacks a column the flags name, then it says which and exits 2', () => {
    const path = file('header.csv', 'sensor,value,timestamp\ns,1,0\n');
    const result = run([path, '--dry-run', '--tag-columns', 'run']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /columns "experiment_id", "run" not in the header \(sensor, value, timestamp\)/);
  });

  it('When the checkpoint was written for an older version of the file, then it refuses with exit 2 before connecting', () => {
    const path = file('changed.csv', 'experiment_id,sensor,value,timestamp\nE,s,1,0\nE,s,2,1\n');
    writeFileSync(`${path}.mymonit-checkpoint`, JSON.stringify({ file: path, size: 10, mtimeMs: 1, line: 2 }));
    utimesSync(path, new Date(), new Date());
    const result = run([path, '--url', NO_BROKER]);
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /checkpoint .* does not fit .*changed\.csv: the file changed since \(size 10 → \d+ bytes\)/);
    assert.match(result.stderr, /--no-resume/);
  });

  it('When flags are wrong or the file is missing, then it exits 2 with a message', () => {
    const usage = run(['--batch-size', 'x']);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /no input/);
    assert.match(usage.stderr, /--batch-size/);
    const missing = run([join(dir, 'nope.csv')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read .*nope\.csv: ENOENT/);
  });

  it('When --help is asked, then every flag is listed on stdout', () => {
    const result = run(['--help']);
    assert.equal(result.status, 0);
    for (const flag of ['--url', '--exchange', '--routing-key', '--format', '--experiment', '--experiment-column', '--sensor-column', '--value-column', '--timestamp-column', '--unit-column', '--unit', '--tag-columns', '--sensor-columns', '--delimiter', '--batch-size', '--dry-run', '--skip-invalid', '--no-resume', '--checkpoint']) {
      assert.ok(result.stdout.includes(flag), flag);
    }
  });

  it('When the broker cannot be reached, then it exits 1 with one line', () => {
    const path = file('good.csv', 'experiment_id,sensor,value,timestamp\nE,s,1,0\n');
    const result = run([path, '--url', NO_BROKER]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^mymonit-csv: cannot connect to amqp:\/\/127\.0\.0\.1:1: cannot reach RabbitMQ within 10000 ms\n$/);
    assert.doesNotMatch(result.stderr, /guest/);
  });
});
