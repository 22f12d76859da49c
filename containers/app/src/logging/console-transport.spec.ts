import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MESSAGE } from 'triple-beam';
import { ConsoleTransport } from './console-transport';

const dir = mkdtempSync(join(tmpdir(), 'mymonit-console-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs with the app's directory as cwd (tsx and its dependencies); each child script starts with these lines. */
const appDir = join(__dirname, '..', '..');
const childPreamble = `const { ConsoleTransport } = require(${JSON.stringify(join(__dirname, 'console-transport.ts'))});
  const { MESSAGE } = require('triple-beam');`;

let files = 0;
/** A transport writing to two fresh files in place of stdout and stderr. */
function transportOnFiles(options: { immediate?: boolean; maxBufferBytes?: number; dropped?: (lines: number) => void } = {}) {
  const paths = { out: join(dir, `out-${++files}`), err: join(dir, `err-${files}`) };
  const fds = { out: openSync(paths.out, 'w'), err: openSync(paths.err, 'w') };
  const transport = new ConsoleTransport({ ...options, stdout: fds.out, stderr: fds.err });
  const log = (level: string, text: string) =>
    transport.log({ level, message: text, [MESSAGE]: text }, () => undefined);
  const read = () => ({ out: readFileSync(paths.out, 'utf8'), err: readFileSync(paths.err, 'utf8') });
  const close = async () => {
    assert.equal(await transport.flush(1_000), true);
    closeSync(fds.out);
    closeSync(fds.err);
  };
  return { transport, log, read, close };
}

describe('Console transport', () => {
  it('When lines are logged, then flush writes all of them in order, errors to stderr and the rest to stdout', async () => {
    const console = transportOnFiles();
    for (let i = 0; i < 1000; i++) console.log(i % 100 === 99 ? 'error' : 'info', `line ${i}`);
    assert.equal(await console.transport.flush(1_000), true);
    const { out, err } = console.read();
    const expected = (errors: boolean) =>
      Array.from({ length: 1000 }, (_, i) => i)
        .filter((i) => (i % 100 === 99) === errors)
        .map((i) => `line ${i}\n`)
        .join('');
    assert.equal(out, expected(false));
    assert.equal(err, expected(true));
    await console.close();
  });

  it('When fewer lines than a batch are logged, then they are written within a batch interval without a flush', async () => {
    const console = transportOnFiles();
    console.log('info', 'a short line');
    assert.equal(console.read().out, '', 'held for the batch at first');
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(console.read().out, 'a short line\n');
    await console.close();
  });

  it('When the transport is immediate (a terminal), then a line is written at once', async () => {
    const console = transportOnFiles({ immediate: true });
    console.log('info', 'seen at once');
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(console.read().out, 'seen at once\n');
    await console.close();
  });

  it('When the reader has fallen behind by more than the buffer, then new lines are dropped and counted', async () => {
    let dropped = 0;
    const console = transportOnFiles({ maxBufferBytes: 100, dropped: (lines) => (dropped += lines) });
    // 10 bytes each: the first ten fit, the rest do not (nothing is written in between: no await).
    for (let i = 0; i < 25; i++) console.log('info', `line ${String(i).padStart(4, '0')}`);
    assert.equal(dropped, 15);
    await console.close();
    assert.equal(console.read().out.split('\n').length - 1, 10);
  });

  it('When two processes share the console and its reader is slow, then no line is cut or mixed with the other', async () => {
    const lines = 4_000;
    // As the workers of APP_WORKERS: two processes, one pipe.
    const writer = (name: string) =>
      `${childPreamble}
       // As in the app, which asks whether stdout is a terminal: Node then makes the pipe non-blocking.
       void process.stdout.isTTY;
       const t = new ConsoleTransport();
       let i = 0;
       const next = () => {
         for (let k = 0; k < 100 && i < ${lines}; k++, i++) t.log({ level: 'info', [MESSAGE]: '${name} ' + i + ' ' + 'x'.repeat(150) }, () => {});
         if (i < ${lines}) setImmediate(next);
       };
       next();`;
    const node = JSON.stringify(process.execPath);
    const child = spawn('sh', ['-c', `(${node} --import tsx --eval "$W1" & ${node} --import tsx --eval "$W2" & wait) | cat`], {
      cwd: appDir,
      env: { ...process.env, W1: writer('w1'), W2: writer('w2') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.setEncoding('utf8');
    // A slow reader: a chunk, then a pause, so that the pipe is often full.
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 20);
    });
    const status = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(status, 0);
    const received = output.split('\n').slice(0, -1);
    assert.deepEqual(received.filter((line) => !/^w[12] \d+ x{150}$/.test(line)).slice(0, 3), []);
    for (const name of ['w1', 'w2']) {
      assert.deepEqual(
        received.filter((line) => line.startsWith(`${name} `)).map((line) => Number(line.split(' ')[1])),
        Array.from({ length: lines }, (_, i) => i),
        `every line of ${name}, in order`,
      );
    }
  });

  it('When the process exits right after logging, then the buffered lines are still written', () => {
    const child = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--eval',
        `${childPreamble}
         const t = new ConsoleTransport();
         for (let i = 0; i < 3; i++) t.log({ level: 'info', [MESSAGE]: 'before exit ' + i }, () => {});
         t.log({ level: 'error', [MESSAGE]: 'an error before exit' }, () => {});
         process.exit(3);`,
      ],
      { encoding: 'utf8', cwd: appDir },
    );
    assert.equal(child.status, 3, child.stderr);
    assert.equal(child.stdout, 'before exit 0\nbefore exit 1\nbefore exit 2\n');
    assert.equal(child.stderr, 'an error before exit\n');
  });
});
