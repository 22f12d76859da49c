import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { loadConfig } from '../../src/config';
import { captureChildOutput, rememberPersonalData } from '../support/log-capture';
import { dropDatabase, testEnvironment } from '../support/test-app';

const appDir = join(__dirname, '..', '..');

function run(script: string, args: string[], env: Record<string, string | undefined>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join('src', script), ...args], {
    cwd: appDir,
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  captureChildOutput(result.stdout + result.stderr);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('Command line', () => {
  const env = testEnvironment();
  const config = loadConfig(env);
  after(async () => dropDatabase(config));

  it('When admin:create runs twice, then the admin is created once and the second run changes nothing', async () => {
    const args = ['--user-id', 'A1', '--uid', 'firebase-uid-1', '--name', 'Ada Cliadmin', '--email', 'ada.cliadmin@test.mymonit.example'];
    rememberPersonalData('firebase-uid-1', 'Ada Cliadmin', 'ada.cliadmin@test.mymonit.example');
    const first = run('cli/admin-create.ts', args, env);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /admin A1: created/);
    // The tools work on MySQL alone: they need no Firebase project.
    const second = run('cli/admin-create.ts', args, { ...env, FIREBASE_PROJECT_ID: undefined, GOOGLE_APPLICATION_CREDENTIALS: undefined });
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stdout, /admin A1: unchanged/);
    const { host, port, user, password, database } = config.db;
    const connection = await mysql.createConnection({ host, port, user, password, database });
    const [rows] = await connection.query('SELECT user_id, username, role FROM users');
    await connection.end();
    assert.deepEqual(rows, [{ user_id: 'A1', username: 'firebase-uid-1', role: 'ADMIN' }]);
  });

  it('When admin:create lacks or has bad arguments, then it exits 1 naming them', () => {
    const result = run('cli/admin-create.ts', ['--user-id', 'A 1', '--name', 'x'], env);
    assert.equal(result.status, 1);
    for (const flag of ['--user-id', '--uid', '--email']) assert.match(result.stderr, new RegExp(flag));
    assert.match(result.stderr, /usage: npm run admin:create/);
  });

  it('When migrate runs on an up-to-date database, without a Firebase project, then it says so and exits 0', () => {
    const result = run('cli/migrate.ts', [], { ...env, FIREBASE_PROJECT_ID: undefined });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /schema already up to date|applied migrations/);
  });

  it('When the app starts with a bad configuration, then it exits 78 naming every bad value', () => {
    const result = run('main.ts', [], {
      ...env,
      DB_PORT: 'abc',
      REST_PORT: '99999',
      FIREBASE_PROJECT_ID: '',
      DB_PASSWORD: 'do-not-print-me',
      LOG_LEVEL: 'chatty',
    });
    assert.equal(result.status, 78);
    for (const name of ['DB_PORT', 'REST_PORT', 'FIREBASE_PROJECT_ID', 'LOG_LEVEL']) {
      assert.match(result.stderr, new RegExp(`- ${name}:`));
    }
    assert.ok(!result.stderr.includes('do-not-print-me'));
  });
});
