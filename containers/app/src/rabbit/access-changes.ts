import { inject, injectable } from 'tsyringe';
import type { Channel } from 'amqplib';
import { CONFIG, type AppConfig } from '../config';
import { Logging, type Log } from '../logging/logging';
import { Metrics } from '../metrics/metrics';
import { AccessCache } from '../services/access-cache';
import { RabbitConnector, type ConsumingChannel } from './rabbit-connector';
import { topologyOf } from './topology';

/**
 * "Users, experiments or associations changed" notices between app
 * instances, on a fanout exchange: each instance listens on an exclusive queue
 * and empties its AccessCache on every notice. The cache is enabled only
 * while that queue is consumed, so an instance that could miss a notice (its
 * broker connection is down or coming back) looks everything up afresh.
 */
@injectable()
export class AccessChanges {
  private readonly log: Log;
  private readonly exchange: string;
  private wrapper: ConsumingChannel | null = null;
  /** The channel of the current subscription. */
  private channel: Channel | null = null;

  constructor(
    @inject(CONFIG) config: AppConfig,
    @inject(RabbitConnector) private readonly connector: RabbitConnector,
    @inject(AccessCache) private readonly cache: AccessCache,
    @inject(Metrics) private readonly metrics: Metrics,
    @inject(Logging) logging: Logging,
  ) {
    this.log = logging.logger('access');
    this.exchange = topologyOf(config).accessExchange;
  }

  start(): void {
    this.wrapper = this.connector.channel('access', async (channel) => {
      this.channel = channel;
      // Not when a replaced channel closes after its successor subscribed.
      channel.once('close', () => this.channel === channel && this.serving(false));
      await channel.assertExchange(this.exchange, 'fanout', { durable: true });
      const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
      await channel.bindQueue(queue, this.exchange, '');
      await channel.consume(
        queue,
        (message) => {
          this.cache.invalidate();
          if (message) return;
          // Cancelled by the broker (the queue deleted by hand): no notice can arrive any more,
          // so the cache stays off until the channel, opened again, subscribes again.
          this.serving(false);
          this.log.warn('access-change notices cancelled by the broker; the access cache is off until they are subscribed to again');
          this.wrapper?.reopenLater();
        },
        { noAck: true },
      );
      // Anything may have changed while no notice could arrive.
      this.serving(true);
    });
  }

  /**
   * After a change is committed: empties this instance's cache and tells the
   * others. Resolves once the broker has taken the notice (or at once when it
   * is away: the others' caches are off then, and the notice follows on
   * reconnection). Never fails the change, which is already committed.
   * Changes made by the command-line tools (admin:create) send no notice:
   * ACCESS_CACHE_SECONDS bounds how long an instance may not see them.
   */
  async changed(): Promise<void> {
    this.cache.invalidate();
    if (!this.wrapper) return; // a command-line tool: no instance of its own to keep in step
    const notice = this.connector
      .publishReliably(this.exchange, '', Buffer.from('{}'), { persistent: false })
      .catch((error: Error) => this.log.warn('access-change notice not sent', { reason: error.message }));
    if (this.connector.isConnected()) await notice;
  }

  private serving(on: boolean): void {
    this.cache.setEnabled(on);
    this.metrics.accessCacheEnabled.set(this.cache.isEnabled ? 1 : 0);
  }

  async close(): Promise<void> {
    this.serving(false);
    await this.wrapper?.close().catch(() => undefined);
    this.wrapper = null;
  }
}
