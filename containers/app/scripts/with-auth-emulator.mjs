#!/usr/bin/env node
// Runs a command with the Firebase Auth Emulator up (demo project, offline),
// passing the command's exit status through:
//   node scripts/with-auth-emulator.mjs <command...>
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const command = process.argv.slice(2);
if (command.length === 0) {
  console.error('usage: with-auth-emulator.mjs <command...>');
  process.exit(2);
}
const firebaseBin = createRequire(import.meta.url).resolve('firebase-tools/lib/bin/firebase.js');
// firebase-tools writes its own config under HOME: keep that out of the real home.
const home = mkdtempSync(join(tmpdir(), 'mymonit-firebase-'));
const quoted = command.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
const child = spawn(
  process.execPath,
  [firebaseBin, 'emulators:exec', '--only', 'auth', '--project', process.env.FIREBASE_PROJECT_ID ?? 'demo-mymonit', quoted],
  { cwd: appDir, stdio: 'inherit', env: { ...process.env, HOME: home, FIREBASE_CLI_DISABLE_UPDATE_CHECK: 'true' } },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  rmSync(home, { recursive: true, force: true });
  process.exit(code ?? (signal ? 1 : 0));
});
