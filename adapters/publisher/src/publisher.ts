import { randomUUID } from 'node:crypto';
import amqp, { type AmqpConnectionManager, type ChannelWrapper } from 'amqp-connection-manager';
import type { ConfirmChannel, Message } from 'amqplib';
import { MAX_MEASURES_PER_MESSAGE, MeasureInput, fieldErrors, type FieldError } from './measure-message';

export interface PublisherOptions {
  /** Broker URL with credentials, e.g. amqp://guest:guest@localhost:5672 */
  url: string;
  /** MyMONIT's exchange (RABBIT_EXCHANGE of the app). Default `mymonit`. */
  exchange?: string;
  /** MyMONIT's routing key (RABBIT_ROUTING). Default `measures`. */
  routingKey?: string;
  /** Measures per AMQP message (an array message). Default 500, at most 10,000. */
  batchSize?: number;
  /** A batch is sent once its JSON reaches this size. Default 1 MiB. */
  maxMessageBytes?: number;
  /** Unconfirmed messages at most; `publish()` waits beyond (back-pressure). Default 64. */
  maxInFlight?: number;
  /** Shown in RabbitMQ's management UI. */
  connectionName?: string;
  /** Connection state changes, for logging. */
  onConnectionChange?: (connected: boolean, reason?: string) => void;
}

/** Measures that do not match MyMONIT's schema; nothing of the call was published. */
export class InvalidMeasureError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(`invalid measures: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`);
    this.name = 'InvalidMeasureError';
  }
}

/** The broker confirmed the message but no queue was bound to take it (is the app's topology declared?). */
export class UnroutableError extends Error {
  constructor(exchange: string, routingKey: string) {
    super(`no queue takes messages sent to exchange "${exchange}" with key "${routingKey}": start the MyMONIT app first`);
    this.name = 'UnroutableError';
  }
}

/** Attempts to publish one message before giving up (about 3 minutes of outage). */
const MAX_ATTEMPTS = 100;

interface Batch {
  body: string[];
  bytes: number;
  done: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A caller that stopped waiting must not turn a failed batch into an unhandled rejection.
  done.catch(() => undefined);
  return { body: [], bytes: 2, done, resolve, reject };
}

/**
 * Publishes measures to MyMONIT as array messages, with publisher confirms:
 * `publish()` resolves once the broker has every measure of the call (so a
 * caller that checkpoints after it never loses data), validates with the
 * app's own schema first, packs the call's measures into array messages of
 * up to batchSize (never mixing two calls in one message), waits when
 * too many messages are unconfirmed (back-pressure), and reconnects by itself
 * (amqp-connection-manager): messages not confirmed when a connection drops
 * are sent again, which MyMONIT's idempotent storage makes harmless.
 * Messages are `mandatory`: one that no queue takes is an error, not a loss.
 */
export class MeasurePublisher {
  private readonly connection: AmqpConnectionManager;
  private readonly channel: ChannelWrapper;
  private readonly exchange: string;
  private readonly routingKey: string;
  private readonly batchSize: number;
  private readonly maxMessageBytes: number;
  private readonly maxInFlight: number;
  private inFlight = 0;
  private readonly sent = new Set<Promise<void>>();
  private readonly capacityWaiters: (() => void)[] = [];
  private readonly returned = new Set<string>();
  private closed = false;

  private constructor(options: PublisherOptions) {
    this.exchange = options.exchange ?? 'mymonit';
    this.routingKey = options.routingKey ?? 'measures';
    this.batchSize = Math.min(Math.max(1, options.batchSize ?? 500), MAX_MEASURES_PER_MESSAGE);
    this.maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 64);
    this.connection = amqp.connect([options.url], {
      heartbeatIntervalInSeconds: 15,
      reconnectTimeInSeconds: 2,
      connectionOptions: { clientProperties: { connection_name: options.connectionName ?? 'mymonit-publisher' } },
    });
    this.connection.on('connect', () => options.onConnectionChange?.(true));
    this.connection.on('disconnect', ({ err }) => options.onConnectionChange?.(false, err?.message));
    this.channel = this.connection.createChannel({
      confirm: true,
      setup: async (channel: ConfirmChannel) => {
        // The app declares the exchange too (same arguments): either may start first.
        await channel.assertExchange(this.exchange, 'direct', { durable: true });
        channel.on('return', (message: Message) => {
          const id = message.properties.messageId as string | undefined;
          if (id) this.returned.add(id);
        });
      },
    });
  }

  /** Connects (waiting until the broker answers, up to `timeoutMs`) and declares the exchange. */
  static async connect(options: PublisherOptions, timeoutMs = 30_000): Promise<MeasurePublisher> {
    const publisher = new MeasurePublisher(options);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        publisher.channel.waitForConnect(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`cannot reach RabbitMQ within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (error) {
      await publisher.connection.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return publisher;
  }

  /**
   * Validates and publishes measures (objects of MyMONIT's message schema).
   * Resolves when the broker has confirmed all of them; rejects with
   * InvalidMeasureError (naming `[index].field`) before publishing anything
   * if one is invalid.
   */
  async publish(measures: MeasureInput | MeasureInput[]): Promise<void> {
    if (this.closed) throw new Error('the publisher is closed');
    const list = Array.isArray(measures) ? measures : [measures];
    const errors = list.flatMap((measure, index) => {
      const result = MeasureInput.safeParse(measure);
      return result.success ? [] : fieldErrors(result.error, Array.isArray(measures) ? `[${index}]` : '');
    });
    if (errors.length > 0) throw new InvalidMeasureError(errors);
    // A call's measures are never mixed with another call's: the app accepts or refuses a
    // message whole (e.g. an unknown experiment), so one caller's mistake stays its own.
    const batches: Batch[] = [];
    let batch = newBatch();
    for (const measure of list) {
      const json = JSON.stringify(measure);
      if (batch.body.length >= this.batchSize || (batch.body.length > 0 && batch.bytes + json.length + 1 > this.maxMessageBytes)) {
        batches.push(batch);
        await this.send(batch);
        batch = newBatch();
      }
      batch.body.push(json);
      batch.bytes += json.length + 1;
    }
    batches.push(batch);
    await this.send(batch);
    await Promise.all(batches.map((b) => b.done));
  }

  /** Waits until every message sent so far is confirmed (or failed). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.sent]);
  }

  /** Flushes, then closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    await this.channel.close();
    await this.connection.close();
  }

  /** Messages sent and not yet confirmed. */
  get unconfirmed(): number {
    return this.inFlight;
  }

  /**
   * Publishes until the broker confirms. A message whose channel closed before
   * its confirm may or may not have been stored by the broker: it is sent again
   * once the connection is back (a duplicate is harmless downstream).
   */
  private async publishConfirmed(content: Buffer, messageId: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.channel.publish(this.exchange, this.routingKey, content, {
          persistent: true,
          mandatory: true,
          contentType: 'application/json',
          messageId,
        });
        return;
      } catch (error) {
        if (this.closed || attempt >= MAX_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 2_000)));
        await this.channel.waitForConnect();
      }
    }
  }

  /** Sends one message once fewer than maxInFlight are unconfirmed; `batch.done` settles on its confirm. */
  private async send(batch: Batch): Promise<void> {
    while (this.inFlight >= this.maxInFlight) await new Promise<void>((resolve) => this.capacityWaiters.push(resolve));
    this.inFlight++;
    const messageId = randomUUID();
    const confirmed = this.publishConfirmed(Buffer.from(`[${batch.body.join(',')}]`), messageId)
      .then(() => {
        // basic.return reaches the client before the confirm of the same message.
        if (this.returned.delete(messageId)) batch.reject(new UnroutableError(this.exchange, this.routingKey));
        else batch.resolve();
      })
      .catch((error: Error) => batch.reject(error))
      .finally(() => {
        this.inFlight--;
        this.sent.delete(confirmed);
        this.capacityWaiters.shift()?.();
      });
    this.sent.add(confirmed);
  }
}
