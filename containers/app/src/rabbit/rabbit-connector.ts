import { inject, injectable } from 'tsyringe';
import amqp, { type AmqpConnectionManager, type ChannelWrapper } from 'amqp-connection-manager';
import { randomUUID } from 'node:crypto';
import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { CONFIG, rabbitEndpoint, type AppConfig } from '../config';
import { UnavailableError } from '../errors';
import { Logging, type Log } from '../logging/logging';
import { declareTopology } from './topology';

const PUBLISH_TIMEOUT_MS = 10_000;
/** Pause before a channel whose setup the broker refused is set up again. */
const SETUP_RETRY_MS = 10_000;
/** Header that pairs a `mandatory` message the broker returned with its publish. */
const PUBLISH_ID = 'x-mymonit-publish-id';

/** Reconnection: 1 s after a connection is lost, then twice as long after each failed attempt, up to 30 s. */
const RECONNECT_FIRST_S = 1;
const RECONNECT_MAX_S = 30;

/**
 * The wait before the next attempt after `failures` failed attempts in a row:
 * drawn from the upper half of the back-off, so that instances that lost the
 * broker together do not all come back at the same moment.
 */
export function reconnectWait(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RECONNECT_MAX_S, RECONNECT_FIRST_S * 2 ** failures);
  return failures === 0 ? ceiling : ceiling * (0.5 + random() / 2);
}

/** The broker confirmed a `mandatory` message that no queue took (a queue deleted): nothing was kept. */
export class UnroutableError extends UnavailableError {}

/**
 * The AMQP I/O (the original's RabbitConnector): one connection that reconnects
 * with back-off by itself, a confirm channel for publishing, and channels whose
 * setup re-runs on every reconnection. The app starts and serves REST while
 * the broker is away.
 */
@injectable()
export class RabbitConnector {
  private connection: AmqpConnectionManager | null = null;
  private publisher: ChannelWrapper | null = null;
  private setupRetry: NodeJS.Timeout | null = null;
  /** Publish ids of `mandatory` messages returned unroutable, until their publish settles. */
  private readonly returned = new Set<string>();
  private readonly log: Log;

  constructor(
    @inject(CONFIG) private readonly config: AppConfig,
    @inject(Logging) logging: Logging,
  ) {
    this.log = logging.logger('rabbit');
  }

  start(): AmqpConnectionManager {
    if (this.connection) return this.connection;
    const endpoint = rabbitEndpoint(this.config);
    const connection = amqp.connect([this.config.rabbit.url], {
      heartbeatIntervalInSeconds: 15,
      reconnectTimeInSeconds: reconnectWait(0),
      connectionOptions: { timeout: 5_000, clientProperties: { connection_name: 'mymonit-app' } },
    });
    // The manager waits `reconnectTimeInSeconds` after each loss or failed attempt, reading
    // it after emitting the event: set here, it makes the wait grow while the broker stays away.
    let failures = 0;
    connection.on('connect', () => {
      failures = 0;
      connection.reconnectTimeInSeconds = reconnectWait(0);
      this.log.info('connected to RabbitMQ', { endpoint });
    });
    connection.on('disconnect', ({ err }) =>
      this.log.warn('disconnected from RabbitMQ; reconnecting', { endpoint, reason: err?.message }),
    );
    connection.on('connectFailed', ({ err }) => {
      connection.reconnectTimeInSeconds = reconnectWait(++failures);
      this.log.warn('cannot connect to RabbitMQ; retrying', {
        endpoint,
        reason: err?.message,
        retryInSeconds: Math.round(connection.reconnectTimeInSeconds * 10) / 10,
      });
    });
    this.connection = connection;
    this.publisher = connection.createChannel({
      name: 'publisher',
      confirm: true,
      publishTimeout: PUBLISH_TIMEOUT_MS,
      setup: async (channel: ConfirmChannel) => {
        // basic.return reaches the client before the confirm of the same message.
        channel.on('return', (message: ConsumeMessage) => this.onReturned(channel, message));
        await declareTopology(channel, this.config);
      },
    });
    this.publisher.on('error', (error: Error) => this.setupFailed('publisher', error));
    return connection;
  }

  /** A channel (re)set up by `setup` on every connection; `setup` gets the raw amqplib channel. */
  channel(name: string, setup: (channel: ConfirmChannel) => Promise<void>): ChannelWrapper {
    const wrapper = this.start().createChannel({ name, confirm: false, setup });
    wrapper.on('error', (error: Error) => this.setupFailed(name, error));
    return wrapper;
  }

  /**
   * A channel's setup failed (the broker refused a declaration: a queue that
   * exists with other arguments, say) and the broker closed that channel;
   * nothing would set it up again while the connection lives. Reconnects
   * after a pause, so every setup is tried again until the cause is removed.
   */
  private setupFailed(channel: string, error: Error): void {
    this.log.error('cannot set up a channel; trying again in 10 s', {
      event: 'rabbit.setup_failed',
      channel,
      reason: error.message,
      hint: /PRECONDITION_FAILED/.test(error.message)
        ? 'a queue or exchange exists with other settings than MyMONIT declares: delete it (after moving its messages) or rename RABBIT_QUEUE/RABBIT_EXCHANGE'
        : undefined,
    });
    if (this.setupRetry) return;
    this.setupRetry = setTimeout(() => {
      this.setupRetry = null;
      this.reconnect();
    }, SETUP_RETRY_MS);
    this.setupRetry.unref();
  }

  /** Drops the connection and reconnects (after a channel closed while the connection stayed up). */
  reconnect(): void {
    this.connection?.reconnect();
  }

  /**
   * Publishes persistently and resolves once the broker confirmed; fails fast
   * when it is away. With `mandatory`, a message that no queue took fails
   * (UnroutableError) instead of vanishing.
   */
  async publish(exchange: string, routingKey: string, body: Buffer, options: Options.Publish = {}): Promise<void> {
    if (!this.publisher || !this.isConnected()) throw new UnavailableError('the message broker is not reachable');
    await this.confirmed(this.publisher, exchange, routingKey, body, options);
  }

  /** Publishes and resolves once confirmed, waiting through a reconnection (bounded by the publish timeout); `mandatory` as for publish. */
  async publishReliably(exchange: string, routingKey: string, body: Buffer, options: Options.Publish = {}): Promise<void> {
    if (!this.publisher) throw new UnavailableError('the message broker connection is not started');
    await this.confirmed(this.publisher, exchange, routingKey, body, options);
  }

  private async confirmed(publisher: ChannelWrapper, exchange: string, routingKey: string, body: Buffer, options: Options.Publish) {
    if (!options.mandatory) {
      await publisher.publish(exchange, routingKey, body, { persistent: true, ...options });
      return;
    }
    const id = randomUUID();
    let returned = false;
    try {
      const headers: Record<string, unknown> = { ...(options.headers as Record<string, unknown> | undefined), [PUBLISH_ID]: id };
      await publisher.publish(exchange, routingKey, body, { persistent: true, ...options, headers });
    } finally {
      returned = this.returned.delete(id);
    }
    if (returned) {
      throw new UnroutableError(`the broker routed the message to no queue (exchange ${exchange}, key ${routingKey}); the queues are being declared again`);
    }
  }

  /** A mandatory message came back unroutable: its queue is gone (deleted by hand?), so the topology is declared again. */
  private onReturned(channel: ConfirmChannel, message: ConsumeMessage): void {
    const id: unknown = message.properties.headers?.[PUBLISH_ID];
    if (typeof id === 'string') this.returned.add(id);
    const { exchange, routingKey } = message.fields;
    this.log.error('the broker routed a message to no queue; declaring the queues again', { exchange, routingKey });
    declareTopology(channel, this.config).catch((error: Error) =>
      this.log.error('cannot declare the queues again', { reason: error.message }),
    );
  }

  /** Fire and forget (no confirm awaited): for live events that are worthless once late. */
  publishTransient(exchange: string, routingKey: string, body: Buffer): void {
    if (!this.publisher || !this.isConnected()) return;
    this.publisher.publish(exchange, routingKey, body, { persistent: false }).catch(() => undefined);
  }

  isConnected(): boolean {
    return this.connection?.isConnected() ?? false;
  }

  /** Closes channels and connection; a broker that is already gone is not an error here. */
  async close(): Promise<void> {
    if (this.setupRetry) clearTimeout(this.setupRetry);
    this.setupRetry = null;
    await this.publisher?.close().catch(() => undefined);
    await this.connection?.close().catch(() => undefined);
    this.publisher = null;
    this.connection = null;
  }
}
