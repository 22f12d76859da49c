import { Agent, get } from 'node:http';
import { applyLocalDefaults } from '../src/cli/cli-context';

export { freePort, startAppProcess } from '../test/support/app-process';

/**
 * Benchmarks and the seed use the local services and a database of their own,
 * unless the environment says otherwise. Their own process logs warnings only.
 */
export function useBenchEnvironment(): void {
  applyLocalDefaults({ DB_DATABASE: 'mymonit_bench', LOG_LEVEL: 'warn' });
}

/** The app under measurement logs at its default level, one line per request and per ingestion batch, as deployed. */
export const APP_LOGGING = { LOG_LEVEL: 'info' };

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
