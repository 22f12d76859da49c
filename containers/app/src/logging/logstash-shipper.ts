import type { EventEmitter } from 'node:events';
import Transport from 'winston-transport';
import { settledWithin } from '../settled-within';

/**
 * The part of winston-logstash 2.1 (`lib/winston-logstash-latest`) used
 * here: it writes each entry as one JSON line over TCP, which Logstash's
 * `tcp` input with the `json_lines` codec reads, and reconnects with
 * back-off. What it lacks (FIELD-NOTES: an unbounded queue, silence or a
 * crash after its retries) is made up for by `LogstashShipper` around it.
 */
interface WinstonLogstash extends EventEmitter {
  manager: EventEmitter;
  log(entry: object, callback: () => void): void;
  close(): void;
}
type WinstonLogstashClass = new (options: Record<string, unknown>) => WinstonLogstash;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const WinstonLogstashTransport = require('winston-logstash/lib/winston-logstash-latest') as WinstonLogstashClass;

export interface LogstashShipperOptions {
  host: string;
  port: number;
  /** Lines held while Logstash is unreachable or slow; beyond it the oldest are dropped. */
  bufferLines: number;
  /** First reconnection delay, doubled on each failure up to `maxReconnectDelayMs`. */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
}

/** What the shipper reports (to metrics and to the log). */
export interface LogstashShipperObserver {
  /** The connection came up (true) or was lost or refused (false). */
  connection?(connected: boolean): void;
  /** The oldest line was dropped because the buffer was full. */
  dropped?(): void;
  /** A line was handed to the socket. */
  shipped?(): void;
}

/** Lines written to the socket and not yet acknowledged by it, at most. */
const IN_FLIGHT = 64;

/** A fixed-capacity FIFO that drops its oldest item when full. */
class RingBuffer<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  size = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  /** Adds an item; returns true when the oldest one was dropped to make room. */
  push(item: T): boolean {
    const full = this.size === this.capacity;
    this.items[(this.head + this.size) % this.capacity] = item;
    if (full) this.head = (this.head + 1) % this.capacity;
    else this.size++;
    return full;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size--;
    return item;
  }
}

/**
 * A winston transport that ships log lines to Logstash without ever blocking
 * or failing the app: `log()` only enqueues into a bounded ring buffer and
 * returns; lines go to the socket while connected, at most IN_FLIGHT at a
 * time (so a slow Logstash fills the buffer, not the process); when the
 * buffer is full the oldest line is dropped and counted; when Logstash comes
 * back (reconnection with exponential back-off, forever) what was buffered
 * is delivered in order. `flush()` waits, bounded, for the buffer to drain.
 */
export class LogstashShipper extends Transport {
  private readonly buffer: RingBuffer<object>;
  private readonly upstream: WinstonLogstash;
  private inFlight = 0;
  /** Unknown until the first attempt, so that a Logstash unreachable at start is reported. */
  private connected: boolean | undefined;
  private stopped = false;
  private readonly idleWaiters = new Set<() => void>();

  constructor(
    options: LogstashShipperOptions,
    private readonly observer: LogstashShipperObserver = {},
  ) {
    super({ level: undefined });
    this.buffer = new RingBuffer(options.bufferLines);
    this.upstream = new WinstonLogstashTransport({
      host: options.host,
      port: options.port,
      retryStrategy: {
        strategy: 'exponentialBackoff',
        maxConnectRetries: -1,
        initialDelayMs: options.reconnectDelayMs ?? 250,
        maxDelayBeforeRetryMs: options.maxReconnectDelayMs ?? 5_000,
      },
    });
    // With unlimited retries it never gives up; an 'error' must still never crash the app.
    this.upstream.on('error', () => this.setConnected(false));
    this.upstream.manager.on('connected', () => this.setConnected(true));
    this.upstream.manager.on('retrying', () => this.setConnected(false));
  }

  get bufferedLines(): number {
    return this.buffer.size + this.inFlight;
  }

  get isConnected(): boolean {
    return this.connected === true;
  }

  override log(info: Record<string | symbol, unknown>, callback: () => void): void {
    callback();
    if (this.stopped) return;
    if (this.buffer.push(logstashLine(info))) this.observer.dropped?.();
    this.pump();
  }

  /** Resolves when every buffered line is on the socket, or after `timeoutMs`. */
  async flush(timeoutMs: number): Promise<boolean> {
    if (this.bufferedLines === 0) return true;
    let done!: () => void;
    const idle = new Promise<void>((resolve) => (done = resolve));
    this.idleWaiters.add(done);
    const drained = await settledWithin(idle, timeoutMs);
    this.idleWaiters.delete(done);
    return drained;
  }

  override close(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.upstream.close();
  }

  private setConnected(connected: boolean): void {
    if (connected === this.connected || this.stopped) return;
    this.connected = connected;
    this.observer.connection?.(connected);
    if (connected) this.pump();
  }

  private pump(): void {
    while (this.connected === true && this.inFlight < IN_FLIGHT && this.buffer.size > 0) {
      const line = this.buffer.shift()!;
      this.inFlight++;
      this.upstream.log(line, () => {
        this.inFlight--;
        this.observer.shipped?.();
        this.pump();
      });
    }
    if (this.bufferedLines === 0) for (const done of this.idleWaiters) done();
  }
}

/**
 * The JSON object Logstash receives: `@timestamp`, `level`, `message`,
 * `service`, `component` and the line's fields (already plain: see
 * `toLoggable`); winston's internal symbols and its `timestamp` copy left out.
 */
function logstashLine(info: Record<string | symbol, unknown>): object {
  const { timestamp: _duplicate, ...fields } = info as Record<string, unknown>;
  return fields;
}
