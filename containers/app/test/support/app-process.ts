import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { captureChildOutput } from './log-capture';

const appDir = join(__dirname, '..', '..');

/** Resident memory of a process, now (VmRSS) or at its peak so far (VmHWM), in MB (Linux /proc). */
export function memoryMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface AppProcess {
  child: ChildProcess;
  baseUrl: string;
  /** Everything the process wrote, for assertions and post-mortems. */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts the app in a process of its own and waits until /health answers:
 * from source through tsx, or (`built`) the compiled `dist/main.js` as in production
 * (or the compiled main.js at the path given).
 */
export async function startAppProcess(
  env: Record<string, string | undefined>,
  nodeFlags: string[] = [],
  built: boolean | string = false,
  /** Leave stdout unread, as a stalled log reader does (the pipe fills at 64 kB). */
  unreadStdout = false,
): Promise<AppProcess> {
  const port = env.REST_PORT && env.REST_PORT !== '0' ? env.REST_PORT : String(await freePort());
  const entry =
    typeof built === 'string' ? [built] : built ? ['dist/main.js'] : ['--require', 'reflect-metadata', '--import', 'tsx', 'src/main.ts'];
  const child = spawn(process.execPath, [...nodeFlags, ...entry], {
    cwd: appDir,
    env: { ...process.env, ...env, REST_HOST: '127.0.0.1', REST_PORT: port },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d: Buffer) => {
    output += String(d);
    captureChildOutput(String(d));
  };
  if (!unreadStdout) child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the app exited with ${child.exitCode}:\n${output}`);
    try {
      if ((await fetch(`${baseUrl}/health`)).ok) break;
    } catch {
      if (i > 300) throw new Error(`the app did not answer /health within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    baseUrl,
    output: () => output,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
