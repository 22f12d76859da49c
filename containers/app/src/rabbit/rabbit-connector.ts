import { inject, injectable } from 'tsyringe';
import amqp, { type AmqpConnectionManager, type ChannelWrapper, type Options as ManagedOptions } from 'amqp-connection-manager';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { CONFIG, rabbitEndpoint, type AppConfig } from '../config';
import { UnavailableError } from '../errors';
import { Logging, type Log } from '../logging/logging';
import { Metrics } from '../metrics/metrics';
import { settledWithin } from '../settled-within';
import { declareTopology } from './topology';

const PUBLISH_TIMEOUT_MS = 10_000;
/** Pause before a channel whose setup the broker refused is set up again. */
const SETUP_RETRY_MS = 10_000;
/** Pause before a channel the broker closed or whose consumer it cancelled (its connection still up) is opened again. */
const CHANNEL_RETRY_MS = 1_000;
/** How long closing waits for a blocked connection to be seen closed once its socket is. */
const DROP_WAIT_MS = 1_000;
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
 * A consuming channel that the connector keeps open: set up again on every
 * new connection, and opened again on its own (its connection untouched)
 * when the broker closes it.
 */
export interface ConsumingChannel {
  /**
   * Opens the channel again a second later (its setup re-runs), unless a
   * reopening is already due or the channel is set up again meanwhile (on a
   * new connection): after the broker cancelled its consumer, say.
   */
  reopenLater(): void;
  close(): Promise<void>;
}

/** What a connection is for: publishing (confirm channel) or consuming (every other channel). */
export type Role = 'publish' | 'consume';
const ROLES: readonly Role[] = ['publish', 'consume'];

/**
 * The AMQP I/O (the original's RabbitConnector): a confirm channel for
 * publishing, and channels for consuming whose setup re-runs on every
 * reconnection, on two connections that each reconnect with back-off by
 * themselves. The app starts and serves REST while the broker is away.
 *
 * Two connections, not one: when a resource alarm (memory or disk) goes off,
 * RabbitMQ blocks every connection that publishes and stops reading from it,
 * acknowledgements included. On one connection, a dead-lettered message or an
 * HTTP ingestion would stop the consumer's acks, and with them the draining
 * of the very queue that may hold the broker's memory; on its own connection
 * the consumer goes on storing and acknowledging.
 */
@injectable()
export class RabbitConnector {
  private connections: Record<Role, AmqpConnectionManager> | null = null;
  private publisher: ChannelWrapper | null = null;
  /** Reconnections due, by connection. */
  private readonly retries = new Map<Role, NodeJS.Timeout>();
  /** Connections RabbitMQ blocks under a resource alarm. */
  private readonly blocked = new Set<Role>();
  private closing = false;
  /** Publish ids of `mandatory` messages returned unroutable, until their publish settles. */
  private readonly returned = new Set<string>();
  private readonly log: Log;

  constructor(
    @inject(CONFIG) private readonly config: AppConfig,
    @inject(Logging) logging: Logging,
    @inject(Metrics) metrics: Metrics,
  ) {
    this.log = logging.logger('rabbit');
    metrics.brokerStatesSource = () =>
      ROLES.map((role) => {
        const connected = this.isConnected(role);
        return { connection: role, connected, blocked: connected && this.blocked.has(role) };
      });
  }

  /** Connects (once); returns the publishing connection. */
  start(): AmqpConnectionManager {
    if (this.connections) return this.connections.publish;
    this.closing = false;
    this.connections = { publish: this.connect('publish'), consume: this.connect('consume') };
    this.publisher = this.connections.publish.createChannel({
      name: 'publisher',
      confirm: true,
      publishTimeout: PUBLISH_TIMEOUT_MS,
      setup: async (channel: ConfirmChannel) => {
        // The publishing connection has this channel alone: reconnecting it opens the channel again.
        this.onChannelError(channel, 'publish', 'publisher', () => this.reconnectLater('publish', CHANNEL_RETRY_MS));
        // basic.return reaches the client before the confirm of the same message.
        channel.on('return', (message: ConsumeMessage) => this.onReturned(channel, message));
        await declareTopology(channel, this.config);
      },
    });
    this.publisher.on('error', (error: Error) =>
      this.setupFailed('publish', 'publisher', error, () => this.reconnectLater('publish', SETUP_RETRY_MS, true)),
    );
    return this.connections.publish;
  }

  private connect(role: Role): AmqpConnectionManager {
    const endpoint = rabbitEndpoint(this.config);
    const connection = amqp.connect([this.config.rabbit.url], {
      heartbeatIntervalInSeconds: 15,
      reconnectTimeInSeconds: reconnectWait(0),
      connectionOptions: { timeout: 5_000, clientProperties: { connection_name: `mymonit-app (${role})` } },
    });
    // The manager waits `reconnectTimeInSeconds` after each loss or failed attempt, reading
    // it after emitting the event: set here, it makes the wait grow while the broker stays away.
    let failures = 0;
    connection.on('connect', () => {
      failures = 0;
      this.blocked.delete(role); // a new connection starts unblocked
      connection.reconnectTimeInSeconds = reconnectWait(0);
      this.log.info('connected to RabbitMQ', { endpoint, connection: role });
    });
    connection.on('disconnect', ({ err }) => {
      if (!this.closing) this.log.warn('disconnected from RabbitMQ; reconnecting', { endpoint, connection: role, reason: err?.message });
    });
    connection.on('connectFailed', ({ err }) => {
      connection.reconnectTimeInSeconds = reconnectWait(++failures);
      this.log.warn('cannot connect to RabbitMQ; retrying', {
        endpoint,
        connection: role,
        reason: err?.message,
        retryInSeconds: Math.round(connection.reconnectTimeInSeconds * 10) / 10,
      });
    });
    connection.on('blocked', ({ reason }) => {
      this.blocked.add(role);
      this.log.error('RabbitMQ blocks this connection (a resource alarm): nothing is published until it lifts', {
        event: 'rabbit.blocked',
        endpoint,
        connection: role,
        reason,
      });
    });
    connection.on('unblocked', () => {
      this.blocked.delete(role);
      this.log.info('RabbitMQ no longer blocks this connection', { event: 'rabbit.unblocked', endpoint, connection: role });
    });
    return connection;
  }

  /**
   * A consuming channel (re)set up by `setup` on every connection; `setup`
   * gets the raw amqplib channel. When the broker closes it, or refuses its
   * setup, only this channel is opened again: the connection manager opens
   * channels only on a new connection, and a new consuming connection would
   * close the other channels too, handing back every unacknowledged message.
   */
  channel(name: string, setup: (channel: ConfirmChannel) => Promise<void>): ConsumingChannel {
    this.start();
    let closed = false;
    let due: NodeJS.Timeout | undefined;
    const open = () => {
      // Only the wrapper in use acts: a replaced one may still get a channel (its connection's
      // createChannel was under way when it was closed), or report a setup that failed.
      const current = () => !closed && wrapper === opened;
      const opened: ChannelWrapper = this.connections!.consume.createChannel({
        name,
        confirm: false,
        setup: async (channel: ConfirmChannel) => {
          if (!current()) {
            await channel.close().catch(() => undefined);
            return;
          }
          this.onChannelError(channel, 'consume', name, () => current() && reopenLater(CHANNEL_RETRY_MS));
          await setup(channel);
          // Set up (on a new connection, say): a reopening still due would only close a good channel.
          if (current()) {
            clearTimeout(due);
            due = undefined;
          }
        },
      });
      opened.on('error', (error: Error) => current() && this.setupFailed('consume', name, error, () => reopenLater(SETUP_RETRY_MS, true)));
      return opened;
    };
    let wrapper = open();
    const reopenLater = (ms: number, replace = false) => {
      if (closed || this.closing || (due && !replace)) return;
      clearTimeout(due);
      due = setTimeout(() => {
        due = undefined;
        if (closed || this.closing) return;
        const old = wrapper;
        wrapper = open();
        old.close().catch(() => undefined);
      }, ms);
      due.unref();
    };
    return {
      reopenLater: () => reopenLater(CHANNEL_RETRY_MS),
      close: async () => {
        closed = true;
        clearTimeout(due);
        await wrapper.close();
      },
    };
  }

  /**
   * The broker closed a channel (a publish to a deleted exchange, a binding
   * to one, a consumer timeout, a declaration it refused): amqplib reports it
   * as an `error` event, which unheard would tear the whole connection down at
   * once. Said here with the broker's reason; `reopen` opens it again a
   * moment later.
   */
  private onChannelError(channel: ConfirmChannel, role: Role, name: string, reopen: () => void): void {
    channel.on('error', (error: Error) => {
      this.log.warn('the broker closed a channel; opening it again', { event: 'rabbit.channel_closed', connection: role, channel: name, reason: error.message });
      reopen();
    });
  }

  /**
   * A channel's setup failed (the broker refused a declaration: a queue that
   * exists with other arguments, say) and the broker closed that channel;
   * nothing would set it up again while the connection lives. `retry` opens
   * it again after a pause, so its setup is tried again until the cause is
   * removed.
   */
  private setupFailed(role: Role, channel: string, error: Error, retry: () => void): void {
    this.log.error('cannot set up a channel; trying again in 10 s', {
      event: 'rabbit.setup_failed',
      connection: role,
      channel,
      reason: error.message,
      hint: /PRECONDITION_FAILED/.test(error.message)
        ? 'a queue or exchange exists with other settings than MyMONIT declares: delete it (after moving its messages) or rename RABBIT_QUEUE/RABBIT_EXCHANGE'
        : undefined,
    });
    // Not sooner: the channel's own close (above) asked for a quick retry, which would only fail again.
    retry();
  }

  /** Reconnects `role`'s connection in `ms`, unless one is already due (`replace`: this one instead). */
  private reconnectLater(role: Role, ms: number, replace = false): void {
    if (this.closing) return;
    const due = this.retries.get(role);
    if (due && !replace) return;
    clearTimeout(due);
    const retry = setTimeout(() => {
      this.retries.delete(role);
      this.reconnect(role);
    }, ms);
    retry.unref();
    this.retries.set(role, retry);
  }

  /** Drops a connection and reconnects (after its channel closed while the connection stayed up). */
  private reconnect(role: Role): void {
    if (this.closing) return;
    this.connections?.[role].reconnect();
  }

  /**
   * Publishes persistently and resolves once the broker confirmed; fails fast
   * when it is away, or blocks publishing under a resource alarm. With
   * `mandatory`, a message that no queue took fails (UnroutableError) instead
   * of vanishing.
   */
  async publish(exchange: string, routingKey: string, body: Buffer, options: Options.Publish = {}): Promise<void> {
    if (!this.publisher || !this.isConnected('publish')) throw new UnavailableError('the message broker is not reachable');
    if (this.isPublishingBlocked()) throw new UnavailableError('the message broker takes no messages now (a memory or disk alarm)');
    await this.confirmed(this.publisher, exchange, routingKey, body, options);
  }

  /**
   * Publishes and resolves once confirmed, waiting through a reconnection
   * for a message not yet sent, and through a resource alarm, for at most
   * `timeoutMs` (the publish timeout unless said); `mandatory` as for
   * publish. A timeout does not take the message back: one the broker has
   * yet to read (a blocked connection) may still land.
   */
  async publishReliably(exchange: string, routingKey: string, body: Buffer, options: Options.Publish = {}, timeoutMs = PUBLISH_TIMEOUT_MS): Promise<void> {
    if (!this.publisher) throw new UnavailableError('the message broker connection is not started');
    await this.confirmed(this.publisher, exchange, routingKey, body, { ...options, timeout: timeoutMs });
  }

  /** Whether RabbitMQ blocks the publishing connection now (a memory or disk alarm). */
  isPublishingBlocked(): boolean {
    return this.blocked.has('publish');
  }

  private async confirmed(publisher: ChannelWrapper, exchange: string, routingKey: string, body: Buffer, options: ManagedOptions.Publish) {
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
    if (!this.publisher || !this.isConnected('publish')) return;
    this.publisher.publish(exchange, routingKey, body, { persistent: false }).catch(() => undefined);
  }

  /** Whether the broker is reachable: both connections up, or the one for `role`. */
  isConnected(role?: Role): boolean {
    if (!this.connections) return false;
    if (role) return this.connections[role].isConnected();
    return this.connections.publish.isConnected() && this.connections.consume.isConnected();
  }

  /**
   * RabbitMQ reads nothing from a blocked connection, the close handshakes of
   * its channels and its own included, which would wait forever: its socket
   * is closed instead. Once the connection is seen closed, its channels have
   * nothing left to close.
   */
  private async dropBlocked(role: Role): Promise<void> {
    const model = this.connections?.[role].connection;
    const socket = (model as unknown as { connection?: { stream?: Socket } } | undefined)?.connection?.stream;
    if (!model || !socket) return;
    const gone = new Promise((resolve) => model.once('close', resolve));
    socket.destroy(new Error('closed while RabbitMQ blocks the connection'));
    await settledWithin(gone, DROP_WAIT_MS);
  }

  /** Closes channels and connections; a broker that is already gone is not an error here. */
  async close(): Promise<void> {
    this.closing = true;
    for (const retry of this.retries.values()) clearTimeout(retry);
    this.retries.clear();
    for (const role of ROLES) if (this.blocked.has(role)) await this.dropBlocked(role);
    await this.publisher?.close().catch(() => undefined);
    for (const connection of Object.values(this.connections ?? {})) await connection.close().catch(() => undefined);
    this.publisher = null;
    this.connections = null;
  }
}
