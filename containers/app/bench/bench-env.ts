import { spawn } from 'node:child_process';
import { Agent, get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { applyLocalDefaults } from '../src/cli/cli-context';

const appDir = join(__dirname, '..');

/** Benchmarks and the seed use the local services and a database of their own, unless the environment says otherwise. */
export function useBenchEnvironment(): void {
  applyLocalDefaults({ DB_DATABASE: 'mymonit_bench', LOG_LEVEL: 'warn' });
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface AppProcess {
  pid: number;
  stop(): Promise<number | null>;
}

/** Starts the app (`src/main.ts`) in a process of its own and waits until /health answers. */
export async function startAppProcess(env: Record<string, string>): Promise<AppProcess> {
  const profile = process.env.BENCH_APP_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_APP_CPU_PROFILE}`] : [];
  const child = spawn(process.execPath, [...profile, '--require', 'reflect-metadata', '--import', 'tsx', 'src/main.ts'], {
    cwd: appDir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://${env.REST_HOST ?? '127.0.0.1'}:${env.REST_PORT}/health`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the app exited with ${child.exitCode} before answering`);
    try {
      if ((await fetch(url)).ok) break;
    } catch {
      if (i > 300) throw new Error('the app did not answer /health within 30 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * A keep-alive HTTP GET that resolves when the whole body has arrived. Leaner
 * than fetch(), so the figures are the server's, not the client library's.
 */
export function httpClient(base: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const url = new URL(base);
  return (path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      get({ host: url.hostname, port: url.port, path, headers, agent }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      }).on('error', reject);
    });
}
