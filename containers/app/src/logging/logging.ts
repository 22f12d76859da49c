import { AsyncLocalStorage } from 'node:async_hooks';
import cluster from 'node:cluster';
import { inject, injectable } from 'tsyringe';
import winston, { format, type Logger as WinstonLogger } from 'winston';
import type Transport from 'winston-transport';
import { CONFIG, type AppConfig } from '../config';
import { Metrics } from '../metrics/metrics';
import { consoleFormat, wantsColour } from './console-format';
import { ConsoleTransport } from './console-transport';
import { isLogging, toLoggable } from './faceted';
import { LogstashShipper } from './logstash-shipper';

/**
 * Where console lines go: 'process' for the process's stdout (stderr for
 * errors), or a stream (tests capture the console of every app they start).
 */
export const LOG_CONSOLE = Symbol('LogConsole');
export type LogConsole = NodeJS.WritableStream | 'process';

/** Fields every line logged while serving one request carries (its request id). */
export interface LogContext {
  requestId?: string;
}

type Level = 'error' | 'warn' | 'info' | 'http' | 'debug';

/**
 * A component's logger. Its methods are logging code (`@isLogging`): the
 * fields are copied to plain JSON inside them, so `@doNotLog` personal data
 * reads `***` in every transport, and never the real value.
 */
export class Log {
  constructor(
    private readonly target: WinstonLogger,
    private readonly context: AsyncLocalStorage<LogContext>,
  ) {}

  @isLogging error(message: string, fields?: object): void {
    this.write('error', message, fields);
  }

  @isLogging warn(message: string, fields?: object): void {
    this.write('warn', message, fields);
  }

  @isLogging info(message: string, fields?: object): void {
    this.write('info', message, fields);
  }

  @isLogging http(message: string, fields?: object): void {
    this.write('http', message, fields);
  }

  @isLogging debug(message: string, fields?: object): void {
    this.write('debug', message, fields);
  }

  isDebugEnabled(): boolean {
    return this.target.isLevelEnabled('debug');
  }

  private write(level: Level, message: string, fields?: object): void {
    if (!this.target.isLevelEnabled(level)) return;
    const context = this.context.getStore();
    const plain = fields === undefined ? {} : (toLoggable(fields) as Record<string, unknown>);
    this.target.log(level, message, context ? { ...context, ...plain } : plain);
  }
}

/** How long shutdown waits for buffered lines to reach a connected Logstash. */
export const FLUSH_TIMEOUT_MS = 3_000;

/**
 * The one logging service (the original's `Logging`): every component asks it
 * for a `Log` named after itself; transports are set up here only. Lines go to
 * the console (human-readable) and, unless LOGSTASH_ENABLED=false, to Logstash
 * as JSON lines; every line carries `service`, `component`, `@timestamp` and
 * `level` (and `worker`, in a cluster).
 */
@injectable()
export class Logging {
  private readonly root: WinstonLogger;
  private readonly context = new AsyncLocalStorage<LogContext>();
  private readonly shipper: LogstashShipper | null;
  private readonly console: ConsoleTransport | null;
  private readonly self: Log;

  constructor(
    @inject(CONFIG) config: AppConfig,
    @inject(Metrics) metrics: Metrics,
    @inject(LOG_CONSOLE) consoleStream: LogConsole,
  ) {
    const consoleTransport = consoleStream === 'process'
      ? new ConsoleTransport({
          format: consoleFormat(wantsColour()),
          immediate: Boolean(process.stdout.isTTY),
          dropped: (lines) => metrics.consoleLinesDropped.inc(lines),
        })
      : new winston.transports.Stream({ stream: consoleStream, format: consoleFormat(false) });
    this.console = consoleTransport instanceof ConsoleTransport ? consoleTransport : null;
    this.root = winston.createLogger({
      level: config.logLevel,
      // In a cluster (APP_WORKERS > 1) each line says which worker wrote it.
      defaultMeta: cluster.isWorker ? { service: 'mymonit', worker: cluster.worker!.id } : { service: 'mymonit' },
      format: format.timestamp({ alias: '@timestamp' }),
      transports: [consoleTransport],
    });
    this.self = this.logger('logging');
    this.shipper = config.logstash.enabled ? this.startShipper(config, metrics) : null;
  }

  logger(component: string): Log {
    return new Log(this.root.child({ component }), this.context);
  }

  /** Runs `fn` so that every line logged within it, however deep, carries `context`. */
  withContext<T>(context: LogContext, fn: () => T): T {
    return this.context.run(context, fn);
  }

  addTransport(transport: Transport): void {
    this.root.add(transport);
  }

  /**
   * Flushes every transport; lines logged before this call are not lost. A
   * connected Logstash gets up to 3 s to take the buffer; an unreachable one
   * is not waited for (the console says how many lines it missed). The
   * console's reader gets 3 s too, and 2 s more as the process exits.
   */
  async close(): Promise<void> {
    if (this.shipper) {
      const drained = this.shipper.isConnected && (await this.shipper.flush(FLUSH_TIMEOUT_MS));
      if (!drained && this.shipper.bufferedLines > 0) {
        this.self.warn('log lines not shipped to Logstash at shutdown', { event: 'logstash.unshipped', lines: this.shipper.bufferedLines });
      }
      this.shipper.close();
    }
    await new Promise<void>((resolve) => {
      this.root.once('finish', () => resolve());
      this.root.end();
    });
    await this.console?.flush(FLUSH_TIMEOUT_MS);
  }

  private startShipper(config: AppConfig, metrics: Metrics): LogstashShipper {
    const { host, port, bufferLines } = config.logstash;
    const endpoint = `${host}:${port}`;
    let droppedInOutage = 0;
    let everConnected = false;
    let reported = false;
    const shipper = new LogstashShipper(
      { host, port, bufferLines },
      {
        dropped: () => {
          metrics.logLinesDropped.inc();
          droppedInOutage++;
        },
        shipped: () => metrics.logLinesShipped.inc(),
        connection: (connected) => {
          metrics.logstashConnected.set(connected ? 1 : 0);
          if (connected) {
            if (reported || everConnected) {
              this.self.info('Logstash reachable; shipping the buffered lines', {
                event: 'logstash.connected',
                endpoint,
                droppedLines: droppedInOutage,
              });
            }
            everConnected = true;
            reported = false;
            droppedInOutage = 0;
          } else if (!reported) {
            // Once per outage, not once per retry.
            reported = true;
            this.self.warn(
              everConnected ? 'Logstash connection lost; buffering log lines' : 'Logstash unreachable; buffering log lines',
              { event: 'logstash.disconnected', endpoint, bufferLines },
            );
          }
        },
      },
    );
    metrics.observe(metrics.logLinesBuffered, () => shipper.bufferedLines);
    this.root.add(shipper);
    return shipper;
  }
}
