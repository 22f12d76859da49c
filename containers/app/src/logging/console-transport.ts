import SonicBoom from 'sonic-boom';
import { MESSAGE } from 'triple-beam';
import Transport, { type TransportStreamOptions } from 'winston-transport';
import { settledWithin } from '../settled-within';

/** Bytes held while the console's reader is slower than the app; beyond it new lines are dropped. */
const MAX_BUFFER_BYTES = 16 * 1024 * 1024;
/**
 * At most this many bytes per write, whole lines only: a pipe takes a write of
 * up to PIPE_BUF (4096 on Linux) in one piece, never interleaved with another
 * process's (the workers of APP_WORKERS share the console).
 */
const MAX_WRITE_BYTES = 4096;
/** When stdout is not a terminal, lines are written once this much has gathered… */
const BATCH_BYTES = 2048;
/** …or this long after the last write, whichever comes first. */
const BATCH_MS = 100;
/** On the way out, how long a reader that is not reading is waited for. */
const EXIT_WAIT_MS = 2_000;

export interface ConsoleTransportOptions extends TransportStreamOptions {
  /** Lines that could not be held because the reader has fallen MAX_BUFFER_BYTES behind. */
  dropped?(lines: number): void;
  /** Defaults to the process's stdout and stderr. */
  stdout?: number;
  stderr?: number;
  /** Write each line at once (a terminal, where a person is watching). */
  immediate?: boolean;
  /** Defaults to 16 MB. */
  maxBufferBytes?: number;
}

/**
 * The process's console (stdout; errors to stderr) for a reader that may fall
 * behind. Node keeps what a full pipe cannot take in process memory, without
 * bound, and drops it when the process exits. Here sonic-boom writes lines off
 * the event loop in batches of 2–4 kB or every 100 ms, holds at most 16 MB for a
 * slow reader (dropping and counting beyond it), and what is still held when
 * the process exits is written synchronously on its way out.
 */
export class ConsoleTransport extends Transport {
  private readonly out: SonicBoom;
  private readonly err: SonicBoom;
  /** Set when the process exits: past it, a full pipe is given up on. */
  private giveUpAt = Infinity;
  private readonly flushOnExit = () => {
    this.giveUpAt = Date.now() + EXIT_WAIT_MS;
    this.flushSync();
  };

  constructor(options: ConsoleTransportOptions = {}) {
    super(options);
    const open = (fd: number) => {
      const stream = new SonicBoom({
        fd,
        sync: false,
        minLength: options.immediate ? 0 : BATCH_BYTES,
        maxWrite: MAX_WRITE_BYTES,
        periodicFlush: options.immediate ? 0 : BATCH_MS,
        maxLength: options.maxBufferBytes ?? MAX_BUFFER_BYTES,
        // A full pipe (EAGAIN): retried every 100 ms, and on the way out only until giveUpAt.
        retryEAGAIN: () => Date.now() < this.giveUpAt,
      });
      stream.on('drop', (data: string) => options.dropped?.(countLines(data)));
      // A console that cannot be written (closed pipe) must not crash the app; nothing else can be done.
      stream.on('error', () => undefined);
      return stream;
    };
    this.out = open(options.stdout ?? 1);
    this.err = open(options.stderr ?? 2);
    process.once('exit', this.flushOnExit);
  }

  override log(info: Record<string | symbol, unknown>, callback: () => void): void {
    (info.level === 'error' ? this.err : this.out).write(`${String(info[MESSAGE])}\n`);
    callback();
  }

  /**
   * Resolves true when every line logged so far has been written, false if
   * the reader has not taken them within `timeoutMs` (the rest are written,
   * if they can be, when the process exits).
   */
  flush(timeoutMs: number): Promise<boolean> {
    const flushed = (stream: SonicBoom) => new Promise<void>((resolve) => stream.flush(() => resolve()));
    return settledWithin(Promise.all([flushed(this.out), flushed(this.err)]), timeoutMs);
  }

  /**
   * Called by winston when the logger ends. It must not block: a reader that
   * has stalled would hold the process forever. What is still held is written
   * as it can be, and synchronously (bounded) when the process exits.
   */
  override close(): void {
    for (const stream of [this.out, this.err]) stream.flush();
  }

  private flushSync(): void {
    for (const stream of [this.out, this.err]) {
      try {
        stream.flushSync();
      } catch {
        // Exiting, or the reader has gone: nothing left to write to.
      }
    }
  }
}

function countLines(data: string): number {
  let lines = 0;
  for (let i = data.indexOf('\n'); i !== -1; i = data.indexOf('\n', i + 1)) lines++;
  return lines;
}
