#!/usr/bin/env node
// Runs every *.spec.ts under src/ and test/ with node's test runner (through tsx),
// one file at a time: the outage tests stop the shared broker and database.
//   node scripts/run-tests.mjs [filter]   (filter: substring of the spec path)
//
// The run captures every log line of every app the tests start: their console
// in files of a temporary directory (TEST_LOG_DIR) and their Logstash lines
// through a listener of its own (TEST_LOGSTASH_PORT). After a full run,
// test/logging/no-personal-data.final.ts checks that no test user's email,
// name or Firebase uid appears in any of them.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const filter = process.argv[2] ?? '';
const specs = ['src', 'test']
  // eslint-disable-next-line security/detect-non-literal-fs-filename -- the app's own src/ and test/
  .flatMap((dir) => readdirSync(join(appDir, dir), { recursive: true }).map((f) => join(dir, String(f))))
  .filter((f) => f.endsWith('.spec.ts') && f.includes(filter))
  // The outage tests stop and restart the machine's MariaDB and RabbitMQ.
  .filter((f) => process.env.TEST_OUTAGES !== '0' || !f.includes('outage'))
  .sort();
if (specs.length === 0) {
  console.error(`no spec files match "${filter}"`);
  process.exit(1);
}

const logDir = mkdtempSync(join(tmpdir(), 'mymonit-test-logs-'));
// eslint-disable-next-line security/detect-non-literal-fs-filename -- a file in the directory made just above
const logstashLines = createWriteStream(join(logDir, 'logstash.jsonl'));
/** @type {Set<import('node:net').Socket>} */
const sockets = new Set();
const logstash = createServer((socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => undefined);
  // Whole lines only, so that lines of concurrent connections never interleave.
  let pending = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => {
    pending += String(chunk); // a string: the encoding is set
    const end = pending.lastIndexOf('\n');
    if (end < 0) return;
    logstashLines.write(pending.slice(0, end + 1));
    pending = pending.slice(end + 1);
  });
});
await new Promise((resolve) => logstash.listen(0, '127.0.0.1', resolve));

const env = {
  ...process.env,
  NODE_ENV: 'test',
  TEST_LOG_DIR: logDir,
  TEST_LOGSTASH_PORT: String(logstash.address().port),
};

/**
 * @param {string[]} files
 * @returns {Promise<number>} the exit code
 */
function nodeTest(files) {
  const child = spawn(
    process.execPath,
    [
      '--require',
      'reflect-metadata',
      '--import',
      'tsx',
      '--test',
      '--test-reporter=spec',
      `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 1}`,
      // TEST_NAME_PATTERN: only the tests whose name matches (a regular expression).
      ...(process.env.TEST_NAME_PATTERN ? [`--test-name-pattern=${process.env.TEST_NAME_PATTERN}`] : []),
      ...files,
    ],
    { cwd: appDir, stdio: 'inherit', env },
  );
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

console.log(`running ${specs.length} spec files`);
let code = await nodeTest(specs);

// Every test process has exited; their connections are closing.
for (const socket of sockets) socket.end();
await new Promise((resolve) => logstash.close(resolve));
await new Promise((resolve) => logstashLines.end(resolve));
if (filter === '') {
  console.log(`checking the run's log lines for personal data (${logDir})`);
  code = (await nodeTest(['test/logging/no-personal-data.final.ts'])) || code;
}
if (code === 0 && process.env.TEST_KEEP_LOGS === undefined) rmSync(logDir, { recursive: true, force: true });
else console.log(`log lines of this run: ${logDir}`);
process.exit(code);
