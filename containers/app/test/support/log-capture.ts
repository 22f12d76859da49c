import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';

/**
 * The whole test run's log capture (set up by scripts/run-tests.mjs through
 * TEST_LOG_DIR): the console of every app a test starts, in-process or as a
 * child process, lands in files there, and every app ships to the run's own
 * Logstash listener (TEST_LOGSTASH_PORT). The personal data of every test
 * user is remembered there too; a last check (no-personal-data.final.ts)
 * fails the run if any of it appears in any captured line.
 */
const dir = process.env.TEST_LOG_DIR;

/** Remembers values that must never appear in a log line (emails, names, Firebase uids). */
export function rememberPersonalData(...values: unknown[]): void {
  if (!dir) return;
  const text = values.filter((v): v is string => typeof v === 'string' && v.length > 0).map((v) => `${v}\n`).join('');
  if (text) appendFileSync(join(dir, 'personal-data.txt'), text);
}

let consoleStream: Writable | null | undefined;

/** Where in-process apps write their console: a file of the run, or null (then the process's stdout). */
export function consoleCapture(): Writable | null {
  if (consoleStream !== undefined) return consoleStream;
  const file = dir ? join(dir, `console-${process.pid}.log`) : null;
  // Synchronous appends: nothing is lost when the test process exits.
  consoleStream = file
    ? new Writable({
        write(chunk: Buffer | string, _encoding, done) {
          appendFileSync(file, chunk);
          done();
        },
      })
    : null;
  return consoleStream;
}

/** Keeps what a child process (an app, a command-line tool) wrote. */
export function captureChildOutput(text: string): void {
  if (dir && text) appendFileSync(join(dir, `children-${process.pid}.log`), text);
}

/** Logstash settings for an app under test: the run's listener, or none. */
export function logstashEnvironment(): Record<string, string> {
  const port = process.env.TEST_LOGSTASH_PORT;
  return port
    ? { LOGSTASH_ENABLED: 'true', LOGSTASH_HOST: '127.0.0.1', LOGSTASH_PORT: port }
    : { LOGSTASH_ENABLED: 'false' };
}

/** The console of one app, kept line by line (and still written to the run's capture). */
export class ConsoleLines extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.lines.push(...String(chunk).split('\n').filter(Boolean));
    consoleCapture()?.write(chunk);
    done();
  }
}
