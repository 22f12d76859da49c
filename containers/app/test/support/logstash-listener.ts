import { createServer, type Server, type Socket } from 'node:net';
import { eventually } from './amqp';

export type LogLine = Record<string, unknown>;

/**
 * Plays Logstash's `tcp` input with the `json_lines` codec: accepts
 * connections, splits what arrives on newlines and parses each line as JSON
 * (a line that does not parse fails the test through `malformed`). It can be
 * stopped and started again on the same port, and paused (stops reading, as
 * a Logstash under back-pressure does).
 */
export class LogstashListener {
  readonly lines: LogLine[] = [];
  readonly malformed: string[] = [];
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private paused = false;

  private constructor(public port: number) {}

  static async start(port = 0): Promise<LogstashListener> {
    const listener = new LogstashListener(port);
    await listener.start();
    return listener;
  }

  get connections(): number {
    return this.sockets.size;
  }

  async start(): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Goes away as a crashed Logstash does: every connection reset, the port closed. */
  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
    const server = this.server;
    this.server = null;
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  /** Stops (true) or resumes (false) reading from every connection. */
  pause(paused: boolean): void {
    this.paused = paused;
    for (const socket of this.sockets) {
      if (paused) socket.pause();
      else socket.resume();
    }
  }

  /** The lines received so far that match. */
  matching(predicate: (line: LogLine) => boolean): LogLine[] {
    return this.lines.filter(predicate);
  }

  /** Waits until a line matches, and returns it. */
  async waitFor(predicate: (line: LogLine) => boolean, what = 'a matching log line', timeoutMs = 10_000): Promise<LogLine> {
    let found: LogLine | undefined;
    await eventually(() => (found = this.lines.find(predicate)) !== undefined, timeoutMs, `Logstash never received ${what}`);
    return found!;
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    if (this.paused) socket.pause();
    let pending = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const text = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        try {
          this.lines.push(JSON.parse(text) as LogLine);
        } catch {
          this.malformed.push(text);
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }
}
