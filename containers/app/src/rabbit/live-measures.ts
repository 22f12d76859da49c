import { inject, injectable } from 'tsyringe';
import type { ChannelWrapper } from 'amqp-connection-manager';
import type { Channel } from 'amqplib';
import { CONFIG, type AppConfig } from '../config';
import { Logging, type Logger } from '../logging/logging';
import type { Measure } from '../model/measure';
import { RabbitConnector } from './rabbit-connector';
import { topologyOf } from './topology';

export type MeasuresListener = (measures: Measure[]) => void;

/**
 * "Stored" events between app instances. Each instance announces what it
 * committed on a topic exchange (routing key: the experiment id); each
 * instance with live-stream clients listens on an exclusive queue of its own,
 * bound only to the experiments its clients watch. So a client sees measures
 * stored by any instance.
 */
@injectable()
export class LiveMeasures {
  private readonly log: Logger;
  private readonly exchange: string;
  private readonly listeners = new Map<string, Set<MeasuresListener>>();
  private readonly bindings = new Map<string, Promise<void>>();
  private wrapper: ChannelWrapper | null = null;
  private current: { channel: Channel; queue: string } | null = null;

  constructor(
    @inject(CONFIG) config: AppConfig,
    @inject(RabbitConnector) private readonly connector: RabbitConnector,
    @inject(Logging) logging: Logging,
  ) {
    this.log = logging.logger('live');
    this.exchange = topologyOf(config).storedExchange;
  }

  start(): void {
    this.wrapper = this.connector.channel('live', async (channel) => {
      await channel.assertExchange(this.exchange, 'topic', { durable: true });
      // A slow instance drops the oldest events rather than growing the queue.
      const { queue } = await channel.assertQueue('', {
        exclusive: true,
        autoDelete: true,
        arguments: { 'x-max-length': 10_000, 'x-overflow': 'drop-head' },
      });
      for (const experimentId of this.listeners.keys()) await channel.bindQueue(queue, this.exchange, experimentId);
      await channel.consume(queue, (message) => message && this.dispatch(message.fields.routingKey, message.content), {
        noAck: true,
      });
      channel.once('close', () => {
        if (this.current?.channel === channel) this.current = null;
      });
      this.current = { channel, queue };
    });
  }

  /** Tells every instance what was just committed (best effort: a live view, not a guarantee). */
  announce(measures: Measure[]): void {
    const byExperiment = new Map<string, Measure[]>();
    for (const m of measures) {
      const list = byExperiment.get(m.experimentId);
      if (list) list.push(m);
      else byExperiment.set(m.experimentId, [m]);
    }
    for (const [experimentId, list] of byExperiment) {
      this.connector.publishTransient(this.exchange, experimentId, Buffer.from(JSON.stringify(list)));
    }
  }

  /**
   * Calls `listener` with each group of newly stored measures of the
   * experiment. `bound` resolves once events for it reach this instance.
   */
  subscribe(experimentId: string, listener: MeasuresListener): { unsubscribe: () => void; bound: Promise<void> } {
    let entry = this.listeners.get(experimentId);
    if (!entry) {
      entry = new Set();
      this.listeners.set(experimentId, entry);
      this.bindings.set(experimentId, this.bind(experimentId, true));
    }
    const set = entry;
    set.add(listener);
    const unsubscribe = () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(experimentId) === set) {
        this.listeners.delete(experimentId);
        this.bindings.delete(experimentId);
        void this.bind(experimentId, false);
      }
    };
    return { unsubscribe, bound: this.bindings.get(experimentId) ?? Promise.resolve() };
  }

  /** Resolves once the subscriptions made so far are bound (for tests and orderly start-up). */
  async ready(): Promise<void> {
    await this.wrapper?.waitForConnect();
  }

  private async bind(experimentId: string, on: boolean): Promise<void> {
    const current = this.current;
    if (!current) return; // the next channel setup binds what is subscribed then
    try {
      if (on) await current.channel.bindQueue(current.queue, this.exchange, experimentId);
      else await current.channel.unbindQueue(current.queue, this.exchange, experimentId);
    } catch (error) {
      this.log.warn('cannot change a live-stream binding', { experimentId, reason: (error as Error).message });
    }
  }

  private dispatch(experimentId: string, body: Buffer): void {
    const listeners = this.listeners.get(experimentId);
    if (!listeners) return;
    let measures: Measure[];
    try {
      measures = JSON.parse(body.toString('utf8')) as Measure[];
    } catch {
      return;
    }
    for (const listener of listeners) listener(measures);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.wrapper?.close().catch(() => undefined);
    this.wrapper = null;
    this.current = null;
  }
}
