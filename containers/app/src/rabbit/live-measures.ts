import { inject, injectable } from 'tsyringe';
import type { Channel } from 'amqplib';
import { CONFIG, type AppConfig } from '../config';
import { Logging, type Log } from '../logging/logging';
import type { Measure } from '../model/measure';
import { RabbitConnector, type ConsumingChannel } from './rabbit-connector';
import { topologyOf } from './topology';

export type MeasuresListener = (measures: Measure[]) => void;

/** Routing key of "watching" notices; `!` cannot occur in an experiment id. */
const WATCH_KEY = 'watching!';
const WATCH_EVERY_MS = 5_000;
const WATCH_LASTS_MS = 15_000;
const READY_WAIT_MS = 2_000;

/**
 * "Stored" events between app instances, for live streams. Each instance
 * publishes what it committed on a topic exchange (routing key: the
 * experiment id), but only for experiments that some instance's clients
 * watch: instances with live-stream clients say so every 5 s ("watching"
 * notices, which every instance hears), so an unwatched experiment costs the
 * broker nothing. Each watching instance listens on an exclusive queue bound
 * to the experiments its clients watch, so a client sees measures stored by
 * any instance.
 */
@injectable()
export class LiveMeasures {
  private readonly log: Log;
  private readonly exchange: string;
  private readonly listeners = new Map<string, Set<MeasuresListener>>();
  private readonly bindings = new Map<string, Promise<void>>();
  /** Experiments watched anywhere, with when that stops being true unless repeated. */
  private readonly watched = new Map<string, number>();
  /** Resolvers waiting to hear this instance's own notice about an experiment. */
  private readonly heard = new Map<string, (() => void)[]>();
  private wrapper: ConsumingChannel | null = null;
  private current: { channel: Channel; queue: string } | null = null;
  private heartbeat: NodeJS.Timeout | null = null;

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
      await channel.bindQueue(queue, this.exchange, WATCH_KEY);
      for (const experimentId of this.listeners.keys()) await channel.bindQueue(queue, this.exchange, experimentId);
      await channel.consume(
        queue,
        (message) => {
          if (message) return this.dispatch(message.fields.routingKey, message.content);
          // Cancelled by the broker (the queue deleted by hand): nothing arrives any more.
          this.log.warn('live events cancelled by the broker; subscribing again');
          this.wrapper?.reopenLater();
        },
        { noAck: true },
      );
      channel.once('close', () => {
        if (this.current?.channel === channel) this.current = null;
      });
      this.current = { channel, queue };
      this.sayWatching([...this.listeners.keys()]);
    });
    this.heartbeat = setInterval(() => this.sayWatching([...this.listeners.keys()]), WATCH_EVERY_MS);
    this.heartbeat.unref();
  }

  /** Publishes what was just committed, for the experiments someone watches (best effort: a live view). */
  announce(measures: Measure[]): void {
    const now = Date.now();
    const byExperiment = new Map<string, Measure[]>();
    for (const m of measures) {
      if ((this.watched.get(m.experimentId) ?? 0) < now) continue;
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
   * experiment. `bound` resolves once every instance has been told to send
   * them (this instance heard its own notice come back through the broker).
   */
  subscribe(experimentId: string, listener: MeasuresListener): { unsubscribe: () => void; bound: Promise<void> } {
    let entry = this.listeners.get(experimentId);
    if (!entry) {
      entry = new Set();
      this.listeners.set(experimentId, entry);
      this.bindings.set(
        experimentId,
        this.bind(experimentId, true).then(() => this.noticeHeard(experimentId)),
      );
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

  /** Says "watching" and waits (bounded) until this instance hears it back. */
  private noticeHeard(experimentId: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, READY_WAIT_MS);
      const waiting = this.heard.get(experimentId) ?? [];
      waiting.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.heard.set(experimentId, waiting);
      this.sayWatching([experimentId]);
    });
  }

  private sayWatching(experimentIds: string[]): void {
    if (experimentIds.length === 0) return;
    this.connector.publishTransient(this.exchange, WATCH_KEY, Buffer.from(JSON.stringify(experimentIds)));
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

  private dispatch(routingKey: string, body: Buffer): void {
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      return;
    }
    if (routingKey === WATCH_KEY) {
      const until = Date.now() + WATCH_LASTS_MS;
      for (const experimentId of payload as string[]) {
        this.watched.set(experimentId, until);
        for (const resolve of this.heard.get(experimentId) ?? []) resolve();
        this.heard.delete(experimentId);
      }
      return;
    }
    for (const listener of this.listeners.get(routingKey) ?? []) listener(payload as Measure[]);
  }

  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.listeners.clear();
    await this.wrapper?.close().catch(() => undefined);
    this.wrapper = null;
    this.current = null;
  }
}
