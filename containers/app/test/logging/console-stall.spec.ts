import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig, type AppConfig } from '../../src/config';
import { startAppProcess, type AppProcess } from '../support/app-process';
import { dropDatabase, prepareDatabase, removeTopology, testEnvironment } from '../support/test-app';

/**
 * The console's reader stalls (a container runtime's log driver falling
 * behind): the pipe fills, and the app must go on serving without losing the
 * lines it could not write yet.
 */
// One line of about 250 bytes per request: 2,000 of them are eight times what a pipe holds.
const REQUESTS = 2_000;

async function fillTheConsole(app: AppProcess): Promise<void> {
  for (let i = 0; i < REQUESTS; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, async (_, k) => {
        const response = await fetch(`${app.baseUrl}/health`, {
          headers: { 'x-request-id': `stall-${i + k}` },
          signal: AbortSignal.timeout(5_000),
        });
        assert.equal(response.status, 200);
        await response.arrayBuffer();
      }),
    );
  }
}

describe('A console whose reader has stalled', () => {
  let env: Record<string, string | undefined>;
  let config: AppConfig;
  let app: AppProcess;
  let other: AppProcess | undefined;

  before(async () => {
    env = testEnvironment({ LOG_LEVEL: 'info' });
    config = loadConfig(env);
    await prepareDatabase(config, 'STALL', 'Stall');
    app = await startAppProcess(env, [], false, true);
  });

  after(async () => {
    await app?.stop();
    await other?.stop('SIGKILL');
    await dropDatabase(config);
    await removeTopology(config);
  });

  it('When stdout is not read, then requests are still answered, and lines held meanwhile are written before the app exits', async () => {
    await fillTheConsole(app);
    // Held, not dropped: 500 kB is far below the 16 MB the console may hold.
    const metrics = await (await fetch(`${app.baseUrl}/metrics`)).text();
    const dropped = metrics.split('\n').find((line) => line.startsWith('mymonit_console_lines_dropped_total'));
    assert.equal(dropped?.split(' ').at(-1), '0', dropped);
    // Stopped while its console is still not read; the reader comes back a second later.
    const exited = app.stop('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    let console = '';
    app.child.stdout!.setEncoding('utf8');
    app.child.stdout!.on('data', (chunk: string) => (console += chunk));
    const ended = new Promise((resolve) => app.child.stdout!.once('end', resolve));
    assert.equal(await exited, 0);
    await ended;
    assert.equal(new Set(console.match(/"requestId":"stall-\d+"/g) ?? []).size, REQUESTS);
    assert.match(console, /REST API listening/, 'the lines of start-up, logged before the stall');
    assert.match(console, /\[app\] stopped/, 'the last line, logged on the way out');
  });

  it('When stdout is never read again, then a stop still ends the process, within the waits of the console', { timeout: 60_000 }, async () => {
    // The same database and queues, the first app having stopped.
    other = await startAppProcess(env, [], false, true);
    await fillTheConsole(other);
    const started = Date.now();
    assert.equal(await other.stop('SIGTERM'), 0);
    other = undefined;
    // 3 s for the reader at the stop, 2 s more on the way out, and the rest of the shutdown.
    assert.ok(Date.now() - started < 9_000, `stopped in ${Date.now() - started} ms`);
  });
});
