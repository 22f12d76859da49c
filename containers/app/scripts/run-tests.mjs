#!/usr/bin/env node
// Runs every *.spec.ts under src/ and test/ with node's test runner (through tsx),
// one file at a time: the outage tests stop the shared broker and database.
//   node scripts/run-tests.mjs [filter]   (filter: substring of the spec path)
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const filter = process.argv[2] ?? '';
const specs = ['src', 'test']
  .flatMap((dir) => readdirSync(join(appDir, dir), { recursive: true }).map((f) => join(dir, String(f))))
  .filter((f) => f.endsWith('.spec.ts') && f.includes(filter))
  // The outage tests stop and restart the machine's MariaDB and RabbitMQ.
  .filter((f) => process.env.TEST_OUTAGES !== '0' || !f.includes('outage'))
  .sort();
if (specs.length === 0) {
  console.error(`no spec files match "${filter}"`);
  process.exit(1);
}
console.log(`running ${specs.length} spec files`);
const child = spawn(
  process.execPath,
  ['--require', 'reflect-metadata', '--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 1}`, ...specs],
  { cwd: appDir, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
child.on('exit', (code) => process.exit(code ?? 1));
