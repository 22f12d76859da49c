import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidMeasureError, MeasurePublisher, type MeasureInput } from '@mymonit/publisher';
import { isAuthorized } from './auth';
import { DEFAULT_MAX_BODY_BYTES } from './body';
import { HttpError, sendError, sendJson } from './http-error';
import { consoleLogger, type Logger } from './log';
import { DEFAULT_MAPPING, type MappingOptions } from './mapping';
import type { WriteApi } from './precision';
import { acceptWrite, type WriteDependencies } from './write';

export interface ServerOptions {
  /** AMQP URL with credentials, e.g. amqp://guest:guest@localhost:5672 */
  amqpUrl: string;
  /** MyMONIT's exchange (the app's RABBIT_EXCHANGE). Default `mymonit`. */
  exchange?: string;
  /** MyMONIT's routing key (the app's RABBIT_ROUTING). Default `measures`. */
  routingKey?: string;
  /** Default 8086 (InfluxDB's); 0 for any free port. */
  port?: number;
  /** Default 0.0.0.0. */
  host?: string;
  /** When set, writes need `Authorization: Token <token>` (or Bearer, or Basic with it as password). */
  token?: string;
  mapping?: Partial<MappingOptions>;
  /** Largest body accepted, after decompression. Default 10 MiB. */
  maxBodyBytes?: number;
  /** A write not confirmed by the broker within this is answered 503. Default 30 s. */
  publishTimeoutMs?: number;
  /** How long to wait for RabbitMQ at start. Default 30 s. */
  connectTimeoutMs?: number;
  /** How long close() lets in-flight requests finish before cutting them. Default 30 s. */
  shutdownGraceMs?: number;
  log?: Logger;
  /** The clock for points without a timestamp (epoch milliseconds). */
  now?: () => number;
}

export interface RunningServer {
  /** The port listened on (the actual one when 0 was asked). */
  port: number;
  /** Stops accepting, lets in-flight requests finish, then closes the publisher (which flushes). */
  close(): Promise<void>;
}

/** The broker's address without credentials, for logs. */
function endpoint(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return '(unparsable AMQP URL)';
  }
}

const WRITE_ROUTES = new Map<string, WriteApi>([
  ['/api/v2/write', 'v2'],
  ['/write', 'v1'],
]);

function allow(request: IncomingMessage, methods: string[]): void {
  if (!methods.includes(request.method ?? '')) {
    throw new HttpError(405, 'method not allowed', `${request.method} is not allowed here: ${methods.join(', ')}`, {
      Allow: methods.join(', '),
    });
  }
}

/**
 * Starts the line protocol endpoint: connects to RabbitMQ (failing if it
 * cannot within connectTimeoutMs), then listens.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.log ?? consoleLogger;
  const exchange = options.exchange ?? 'mymonit';
  const routingKey = options.routingKey ?? 'measures';
  const publishTimeoutMs = options.publishTimeoutMs ?? 30_000;
  const broker = endpoint(options.amqpUrl);
  let brokerDown: string | null = null;

  const publisher = await MeasurePublisher.connect(
    {
      url: options.amqpUrl,
      exchange,
      routingKey,
      connectionName: 'mymonit-line-protocol',
      onConnectionChange: (connected, reason) => {
        if (connected) {
          if (brokerDown !== null) log('info', `connected to RabbitMQ again (${broker})`);
          brokerDown = null;
        } else {
          brokerDown = reason ?? 'connection lost';
          log('warn', `lost RabbitMQ (${broker}): ${brokerDown}; writes are answered 503 until it is back`);
        }
      },
    },
    options.connectTimeoutMs ?? 30_000,
  );

  async function publish(measures: MeasureInput[]): Promise<void> {
    if (brokerDown !== null) {
      throw new HttpError(503, 'unavailable', `RabbitMQ is unreachable (${brokerDown}); nothing was published, retry later`, {
        'Retry-After': '5',
      });
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new HttpError(
              503,
              'unavailable',
              `RabbitMQ did not confirm within ${publishTimeoutMs} ms; some measures may still arrive, retry (a repeated measure changes nothing)`,
            ),
          ),
        publishTimeoutMs,
      );
    });
    try {
      await Promise.race([publisher.publish(measures), timeout]);
    } catch (error) {
      if (error instanceof HttpError) throw error;
      // Cannot happen (every measure was validated already), but would be the client's fault.
      if (error instanceof InvalidMeasureError) throw new HttpError(400, 'invalid', error.message);
      throw new HttpError(503, 'unavailable', `publishing to RabbitMQ failed: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  const dependencies: WriteDependencies = {
    mapping: { ...DEFAULT_MAPPING, ...options.mapping },
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    now: options.now ?? Date.now,
    publish,
  };
  let stopping = false;

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const api = WRITE_ROUTES.get(url.pathname);
    if (api) {
      allow(request, ['POST']);
      if (options.token !== undefined && !isAuthorized(request.headers, options.token)) {
        throw new HttpError(401, 'unauthorized', 'unauthorized access: send Authorization: Token <token>', {
          'WWW-Authenticate': 'Token',
        });
      }
      const outcome = await acceptWrite(request, url, api, dependencies);
      if (stopping) response.setHeader('Connection', 'close');
      response.writeHead(204, {
        'X-MyMONIT-Measures': String(outcome.measures),
        'X-MyMONIT-Skipped-Fields': String(outcome.skippedFields),
      });
      response.end();
      return;
    }
    switch (url.pathname) {
      case '/ping':
        allow(request, ['GET', 'HEAD']);
        response.writeHead(204);
        response.end();
        return;
      case '/health':
        allow(request, ['GET', 'HEAD']);
        if (brokerDown === null) sendJson(response, 200, { status: 'ok' });
        else sendJson(response, 503, { status: 'unavailable', message: `RabbitMQ is unreachable: ${brokerDown}` });
        return;
      default:
        throw new HttpError(404, 'not found', `no route ${url.pathname}: write to /api/v2/write or /write`);
    }
  }

  const server = createServer((request, response) => {
    // During shutdown every answer closes its connection, so none lingers idle.
    if (stopping) response.setHeader('Connection', 'close');
    route(request, response).catch((error: unknown) => {
      const failure =
        error instanceof HttpError ? error : new HttpError(500, 'internal error', 'internal error; see the adapter log');
      if (!(error instanceof HttpError)) log('error', `${request.method} ${request.url}: ${(error as Error).stack ?? String(error)}`);
      else if (failure.status >= 400) {
        log('warn', `${request.method} ${request.url} from ${request.socket.remoteAddress}: ${failure.status} ${failure.message}`);
      }
      if (response.headersSent) {
        response.destroy();
        return;
      }
      // The body may be left unread (too large, bad token): do not keep reading it for a next request.
      if (stopping || !request.complete) response.setHeader('Connection', 'close');
      sendError(response, failure);
    });
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 8086, options.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await publisher.close();
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  log('info', `listening on http://${options.host ?? '0.0.0.0'}:${port}, publishing to exchange "${exchange}" with key "${routingKey}" on ${broker}`);
  if (options.token === undefined) {
    log('warn', 'no token set (--token or MYMONIT_LP_TOKEN): every write is accepted without authentication');
  }

  let closing: Promise<void> | null = null;
  return {
    port,
    close() {
      closing ??= (async () => {
        stopping = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const graceMs = options.shutdownGraceMs ?? 30_000;
        const grace = setTimeout(() => server.closeAllConnections(), graceMs);
        await closed;
        clearTimeout(grace);
        // With the broker away, the publisher would keep retrying its last messages for minutes.
        let timer: NodeJS.Timeout | undefined;
        const flushed = await Promise.race([
          publisher.close().then(() => true),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), graceMs);
          }),
        ]);
        clearTimeout(timer);
        if (flushed) log('info', 'stopped');
        else log('warn', `stopped without the broker's confirm of the last measures (waited ${graceMs} ms)`);
      })();
      return closing;
    },
  };
}
