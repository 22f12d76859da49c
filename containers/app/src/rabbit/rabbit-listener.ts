import { setTimeout as delay } from 'node:timers/promises';
import { inject, injectable } from 'tsyringe';
import type { Channel, ConsumeMessage, MessageProperties, Options } from 'amqplib';
import { CONFIG, type AppConfig } from '../config';
import { Logging, type Log } from '../logging/logging';
import { settledWithin } from '../settled-within';
import { Metrics } from '../metrics/metrics';
import { LiveMeasures } from './live-measures';
import { RabbitConnector, type ConsumingChannel } from './rabbit-connector';
import { RabbitMessageProcessor, type DecodedMessage, type Outcome } from './rabbit-message-processor';
import { DeliveryBudget, type Held } from './delivery-budget';
import { declareTopology, topologyOf } from './topology';

/** A message with the channel it came on (acks go to that channel or nowhere), decoded on arrival. */
interface Delivery {
  channel: Channel;
  message: ConsumeMessage;
  generation: number;
  decoded: DecodedMessage;
  /** Refused, and its dead-letter copy not yet confirmed: acknowledged and released on its own, not with its batch. */
  deadLettering?: boolean;
}

/** A message refused for its content. */
type Refusal = Extract<Outcome, { stored: false }>;

/** The consumer of one channel; no tag while paused (the channel stays open, its deliveries unacknowledged). */
interface Consumer {
  channel: Channel;
  generation: number;
  tag: string | null;
  prefetch: number;
}

/** A batch being written: the keys of its measures, and when it and every batch cut before it are written (or failed). */
interface WrittenBatch {
  keys: BatchKeys;
  writtenThrough: Promise<void>;
}

/**
 * The natural keys (experiment, sensor, timestamp) of a batch's valid
 * measures, and their timestamps alone: two batches with no timestamp in
 * common (the usual case: time moves on) share no key, and the full keys are
 * only built when they do.
 */
class BatchKeys {
  readonly timestamps = new Set<number>();
  private full: Set<string> | null = null;

  constructor(private readonly batch: Delivery[]) {
    for (const { decoded } of batch) {
      if ('measures' in decoded) for (const m of decoded.measures) this.timestamps.add(m.timestamp);
    }
  }

  shares(other: BatchKeys): boolean {
    return overlaps(this.timestamps, other.timestamps) && overlaps(this.keys(), other.keys());
  }

  private keys(): Set<string> {
    if (!this.full) {
      this.full = new Set();
      for (const { decoded } of this.batch) {
        if (!('measures' in decoded)) continue;
        for (const m of decoded.measures) this.full.add(`${m.experimentId}\u0000${m.sensor}\u0000${m.timestamp}`);
      }
    }
    return this.full;
  }
}

/** What a delivery holds: its body, and its measures once decoded (none when refused). */
function held({ message, decoded }: Delivery): Held {
  return { bytes: message.content.length, measures: 'measures' in decoded ? decoded.measures.length : 0 };
}

const KEPT_PROPERTIES = ['contentType', 'contentEncoding', 'correlationId', 'replyTo', 'messageId', 'timestamp', 'type', 'appId', 'priority'] as const;

/**
 * The properties a dead-lettered copy keeps of the original. Not `userId`:
 * the broker refuses a publish whose user id is not the publisher's own (the
 * app republishes under its account), which would bring the message back
 * again and again; not `expiration`: the copy must stay until someone reads it.
 */
export function deadLetterProperties(properties: MessageProperties): Options.Publish {
  const kept: Record<string, unknown> = {};
  for (const name of KEPT_PROPERTIES) {
    const value = properties[name] as unknown;
    if (value !== undefined) kept[name] = value;
  }
  return kept;
}

function overlaps<T>(a: Set<T>, b: Set<T>): boolean {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const key of small) if (large.has(key)) return true;
  return false;
}

const MAX_BATCH_BYTES = 8 * 1024 * 1024;
const MAX_BATCH_MEASURES = 10_000;
/** Measures held unacknowledged at most: eight full batches ahead of the writer, which writes two at a time. */
const MAX_HELD_MEASURES = 8 * MAX_BATCH_MEASURES;
/** How long a stop waits for in-flight batches before leaving them to the broker. */
export const SHUTDOWN_GRACE_MS = 30_000;
/** How often a stop that waits for dead-letter copies checks whether RabbitMQ still takes them. */
const BLOCKED_CHECK_MS = 200;
/**
 * How long a refused message is held for its dead-letter copy's confirm
 * (which a resource alarm delays until it lifts) before it is requeued.
 * Held past RabbitMQ's consumer_timeout (30 min by default), it would make
 * the broker close the consumer's channel, handing back every message on it.
 */
export const DEAD_LETTER_CONFIRM_MS = 10 * 60_000;

/**
 * Consumes the measures queue (the original's RabbitListener): gathers
 * deliveries into batches (by count, bytes and a short wait), has the
 * processor store them, dead-letters refused messages with the reason, and
 * acks only what is committed or dead-lettered. Up to two batches are
 * written at once while the next one gathers.
 */
@injectable()
export class RabbitListener {
  private readonly log: Log;
  private readonly topology;
  private wrapper: ConsumingChannel | null = null;
  private consumer: Consumer | null = null;
  private readonly budget: DeliveryBudget;
  /** A consumer is being cancelled or created to pause, resume or re-size it. */
  private retuning = false;
  /** Deliveries have been handed back since the consumer last started: it pauses. */
  private handingBack = false;
  private generation = 0;
  private readonly openGenerations = new Set<number>();
  private pending: Delivery[] = [];
  private pendingBytes = 0;
  private pendingMeasures = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Settles when every batch cut so far is acknowledged (or given up). */
  private writing: Promise<void> = Promise.resolve();
  private previousBatch: WrittenBatch | null = null;
  private batchBeforePrevious: WrittenBatch | null = null;
  private stopping = false;
  private abandoning = false;
  /**
   * Refused messages whose dead-letter copy the broker has not confirmed yet,
   * by channel. While a channel has any, its batches are acknowledged message
   * by message: a multiple ack would cover them too.
   */
  private readonly awaitingDeadLetter = new Map<Channel, number>();
  /** The dead-letter publishes under way, for stop() to wait for, or to give up (`requeue`: a stop under a resource alarm, a closed channel). */
  private readonly deadLettering = new Map<Delivery, { done: Promise<void>; requeue: () => void }>();

  constructor(
    @inject(CONFIG) private readonly config: AppConfig,
    @inject(RabbitConnector) private readonly connector: RabbitConnector,
    @inject(RabbitMessageProcessor) private readonly processor: RabbitMessageProcessor,
    @inject(LiveMeasures) private readonly live: LiveMeasures,
    @inject(Metrics) private readonly metrics: Metrics,
    @inject(Logging) logging: Logging,
  ) {
    this.log = logging.logger('ingest');
    this.topology = topologyOf(config);
    this.budget = new DeliveryBudget({ bytes: config.ingest.maxUnackedBytes, measures: MAX_HELD_MEASURES }, config.ingest.prefetch);
    metrics.observe(metrics.ingestUnackedBytes, () => this.budget.unackedBytes);
    metrics.observe(metrics.ingestUnackedMeasures, () => this.budget.unackedMeasures);
  }

  start(): void {
    this.wrapper = this.connector.channel('consumer', async (channel) => {
      await declareTopology(channel, this.config);
      const generation = ++this.generation;
      this.openGenerations.add(generation);
      // Closed: by the broker (the connector opens it again), with its connection (the
      // connection manager sets it up again), or by the app (replaced, or stopping).
      channel.once('close', () => this.closed(channel, generation));
      const consumer: Consumer = { channel, generation, tag: null, prefetch: 0 };
      await this.consume(consumer);
      this.consumer = consumer;
      this.log.info('consuming', { queue: this.topology.queue, prefetch: consumer.prefetch });
    });
  }

  /** A consuming channel closed: the broker hands its unacknowledged messages back, the refused ones awaiting their copy too. */
  private closed(channel: Channel, generation: number): void {
    this.openGenerations.delete(generation);
    this.forget(channel);
    for (const [delivery, { requeue }] of [...this.deadLettering]) if (delivery.channel === channel) requeue();
  }

  /** The channel's consumer is gone (channel closed, or cancelled by the broker). */
  private forget(channel: Channel): void {
    if (this.consumer?.channel !== channel) return;
    this.consumer = null;
    this.metrics.ingestPrefetch.set(0);
  }

  /** Starts `consumer` consuming, with the prefetch the delivery budget allows now. */
  private async consume(consumer: Consumer): Promise<void> {
    const { channel, generation } = consumer;
    this.handingBack = false;
    const prefetch = this.budget.prefetch();
    await channel.prefetch(prefetch);
    const { consumerTag } = await channel.consume(this.topology.queue, (message) => {
      if (message) {
        if (this.budget.mustHandBack(message.content.length)) this.handBack(channel, message);
        else this.receive({ channel, message, generation, decoded: this.processor.decode(message.content) });
      } else {
        // Cancelled by the broker (its queue deleted): opened again, the channel declares the queue.
        this.forget(channel);
        if (!this.stopping) {
          this.log.warn('consumer cancelled by the broker; opening its channel again');
          this.wrapper?.reopenLater();
        }
      }
    });
    consumer.tag = consumerTag;
    consumer.prefetch = prefetch;
    this.metrics.ingestPrefetch.set(prefetch);
    if (this.stopping) await this.pause(consumer); // stop() came meanwhile
  }

  private async pause(consumer: Consumer): Promise<void> {
    const tag = consumer.tag;
    if (tag === null) return;
    consumer.tag = null;
    this.metrics.ingestPrefetch.set(0);
    await consumer.channel.cancel(tag);
  }

  /**
   * Keeps what is held unacknowledged within the budget (INGEST_MAX_UNACKED_MB
   * and MAX_HELD_MEASURES): pauses the consumer when it is over, consumes
   * again once it is back under half, with the prefetch the average message
   * allows, and raises that prefetch again when messages get smaller. One
   * change at a time; a lost channel ends it (the connection manager sets up
   * a new one).
   */
  private adjustFlow(): void {
    const consumer = this.consumer;
    if (!consumer || this.stopping || this.retuning) return;
    const paused = consumer.tag === null;
    const change = paused
      ? this.budget.mayResume() && 'resume'
      : this.budget.isOver() || this.handingBack
        ? 'pause'
        : this.budget.shouldRaise(consumer.prefetch) && 'raise';
    if (!change) return;
    this.retuning = true;
    const held = { bytes: this.budget.unackedBytes, measures: this.budget.unackedMeasures };
    const work = async () => {
      await this.pause(consumer);
      if (change !== 'pause' && !this.stopping) await this.consume(consumer);
    };
    work()
      .then(
        () =>
          this.log.debug(change === 'pause' ? 'consumer paused: unacknowledged messages over their memory budget' : 'consuming again', {
            unackedBytes: held.bytes,
            unackedMeasures: held.measures,
            prefetch: consumer.tag === null ? 0 : consumer.prefetch,
          }),
        (error: Error) => this.log.warn('cannot change the consumer; the channel is set up again', { reason: error.message }),
      )
      .finally(() => {
        this.retuning = false;
        if (this.consumer === consumer) this.adjustFlow();
      });
  }

  /** Whether the queue is being consumed now (for /ready): false while the consumer is being set up again, or after stop(). */
  isConsuming(): boolean {
    return this.consumer !== null && !this.stopping;
  }

  private receive(delivery: Delivery): void {
    // After stop() cancelled the consumer, stragglers stay unacked: the broker requeues them when the channel closes.
    if (this.stopping) return;
    const holds = held(delivery);
    this.budget.received(holds);
    this.pending.push(delivery);
    this.pendingBytes += holds.bytes;
    this.pendingMeasures += holds.measures;
    if (
      this.pending.length >= this.config.ingest.batchMessages ||
      this.pendingMeasures >= MAX_BATCH_MEASURES ||
      this.pendingBytes >= MAX_BATCH_BYTES
    ) {
      void this.flush();
    } else {
      this.timer ??= setTimeout(() => void this.flush(), this.config.ingest.batchWaitMs);
    }
    if (this.budget.isOver()) this.adjustFlow();
  }

  /**
   * A delivery that would take what is held past twice the budget (larger
   * messages than the prefetch was set for, sent before a pause could take
   * effect) goes back to the queue at once, undecoded, and the consumer
   * pauses; it comes again once the held messages are written, with a
   * prefetch that fits its size. Requeued, it may come after messages that
   * were behind it, as any redelivery does.
   */
  private handBack(channel: Channel, message: ConsumeMessage): void {
    if (this.stopping) return; // left unacked: the broker requeues it when the channel closes
    try {
      channel.nack(message, false, true);
    } catch {
      return; // the channel is closed: the broker requeues it anyway
    }
    this.budget.handedBack(message.content.length);
    this.metrics.ingestMessages.inc({ outcome: 'requeued' });
    if (!this.handingBack) {
      this.handingBack = true;
      this.log.warn('messages far larger than the prefetch was set for: handed back to RabbitMQ until the held ones are written', {
        event: 'ingest.handed_back',
        bytes: message.content.length,
        unackedBytes: this.budget.unackedBytes,
        unackedMeasures: this.budget.unackedMeasures,
      });
    }
    this.adjustFlow();
  }

  /** A batch is acknowledged or given up (left for redelivery): it leaves the budget, but for what awaits its dead-lettering. */
  private release(batch: Delivery[]): void {
    for (const delivery of batch) if (!delivery.deadLettering) this.budget.released(held(delivery));
    this.adjustFlow();
  }

  /**
   * Queues the gathered deliveries for writing; resolves when every batch so
   * far is settled. Two batches may be written at once (MySQL works on one
   * while JavaScript prepares the next), except when they share a measure's
   * key: then the later one waits, so the last write still wins. A batch
   * starts once every batch but the one just before it is written (not merely
   * the one two before: that one may have overtaken a slower predecessor), so
   * never more than two are written at once and the pair is always checked.
   * Batches are acknowledged in the order they were cut, whatever order they
   * commit in.
   */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      this.pendingBytes = 0;
      this.pendingMeasures = 0;
      const keys = new BatchKeys(batch);
      const previous = this.previousBatch;
      const beforePrevious = this.batchBeforePrevious;
      // At most two in flight; after the previous one if they overlap.
      const mayStart = previous && keys.shares(previous.keys) ? previous.writtenThrough : beforePrevious?.writtenThrough;
      const stored = (mayStart ?? Promise.resolve()).then(() => this.store(batch));
      // Settled after every batch before it, even when its write failed: a later batch's
      // multiple ack must never cover deliveries of one that is not settled.
      const settled = this.writing
        .then(() => stored)
        .then(
          (written) => this.settle(batch, written),
          (error: Error) => {
            this.log.error('batch failed; its messages go back to the queue', { reason: error.message, stack: error.stack });
            this.acknowledge(batch, batch.map(() => ({ stored: null })));
            this.metrics.ingestMessages.inc({ outcome: 'requeued' }, batch.length);
          },
        );
      const written = stored.then(
        () => undefined,
        () => undefined,
      );
      this.batchBeforePrevious = previous;
      this.previousBatch = { keys, writtenThrough: previous ? Promise.all([written, previous.writtenThrough]).then(() => undefined) : written };
      this.writing = settled
        .catch((error: Error) => {
          // Settling failed part-way: what is unacked the broker redelivers when the channel closes; storing is idempotent.
          this.log.error('batch failed', { reason: error.message, stack: error.stack });
        })
        .finally(() => this.release(batch));
    }
    return this.writing;
  }

  private async store(batch: Delivery[]): Promise<{ outcomes: Outcome[]; seconds: number }> {
    const started = process.hrtime.bigint();
    const wanted = () => !this.abandoning && batch.some((d) => this.openGenerations.has(d.generation));
    const outcomes = await this.processor.process(
      batch.map((d) => d.decoded),
      wanted,
    );
    return { outcomes, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  }

  /**
   * Acknowledges a written batch, reports it, and starts dead-lettering what
   * it refused. A refused message is acknowledged once the broker confirms
   * its dead-letter copy, apart from its batch: under a memory or disk alarm
   * that confirm waits (up to DEAD_LETTER_CONFIRM_MS), and the batches around
   * it must not wait with it.
   */
  private settle(batch: Delivery[], { outcomes, seconds }: { outcomes: Outcome[]; seconds: number }): void {
    outcomes.forEach((outcome, i) => {
      if (outcome.stored !== false) return;
      // Its channel is gone: the broker redelivers it, and it is refused (and dead-lettered) then.
      if (!this.openGenerations.has(batch[i].generation)) outcomes[i] = { stored: null };
      else this.deadLetter(batch[i], outcome);
    });
    this.acknowledge(batch, outcomes);
    this.report(batch, outcomes, seconds);
    const stored = outcomes.flatMap((o) => (o.stored === true ? o.measures : []));
    if (stored.length > 0) this.live.announce(stored);
  }

  /**
   * Publishes a refused message to the dead-letter exchange with the reason,
   * then acks it; requeues it if the broker refuses the copy or does not
   * confirm it within DEAD_LETTER_CONFIRM_MS. Under a resource alarm the copy
   * waits, unread by the broker, until the alarm lifts, and the message stays
   * held meanwhile: requeued and refused again at a short timeout, it would
   * land one more copy in the dead-letter queue each time.
   */
  private deadLetter(delivery: Delivery, refusal: Refusal): void {
    const { channel, message } = delivery;
    delivery.deadLettering = true;
    this.awaitingDeadLetter.set(channel, (this.awaitingDeadLetter.get(channel) ?? 0) + 1);
    this.log.warn('message rejected', {
      event: 'ingest.rejected',
      rejectKind: refusal.kind,
      reason: refusal.reason,
      bytes: message.content.length,
    });
    const published = this.connector.publishReliably(this.topology.deadLetterExchange, this.topology.routingKey, message.content, {
      ...deadLetterProperties(message.properties),
      headers: {
        ...message.properties.headers,
        'x-mymonit-error': refusal.reason,
        'x-mymonit-rejected-at': new Date().toISOString(),
        'x-mymonit-queue': this.topology.queue,
      },
      persistent: true,
      // A dead-letter queue deleted by hand: the message is not acked but redelivered (and the queue declared again).
      mandatory: true,
    }, DEAD_LETTER_CONFIRM_MS);
    let settled = false;
    /** Acks it (its copy confirmed) or requeues it, once: a requeue (at stop(), its channel closed) may come before the confirm. */
    const settle = (deadLettered: boolean) => {
      if (settled) return;
      settled = true;
      try {
        this.settleAlone(delivery, deadLettered);
        if (deadLettered) this.metrics.ingestMessages.inc({ outcome: 'rejected' });
        else this.metrics.ingestMessages.inc({ outcome: 'requeued' });
      } finally {
        const left = this.awaitingDeadLetter.get(channel)! - 1;
        if (left > 0) this.awaitingDeadLetter.set(channel, left);
        else this.awaitingDeadLetter.delete(channel);
        this.deadLettering.delete(delivery);
        this.budget.released(held(delivery));
        this.adjustFlow();
      }
    };
    const done = published
      .then(
        () => settle(true),
        (error: Error) => {
          if (!settled) this.log.error('cannot dead-letter a rejected message; it will be redelivered', { reason: error.message });
          settle(false);
        },
      )
      .catch((error: Error) => this.log.error('settling a dead-lettered message failed', { reason: error.message, stack: error.stack }));
    this.deadLettering.set(delivery, { done, requeue: () => settle(false) });
  }

  /** Acks a dead-lettered message, or requeues one whose copy was not confirmed. */
  private settleAlone({ channel, message, generation }: Delivery, deadLettered: boolean): void {
    if (!this.openGenerations.has(generation)) return; // its channel is gone: the broker redelivers it
    try {
      if (deadLettered) channel.ack(message);
      else channel.nack(message, false, true);
    } catch (error) {
      this.log.warn('cannot acknowledge on a closed channel; the broker will redeliver', { reason: (error as Error).message });
    }
  }

  /**
   * Acks stored messages (one multiple-ack per channel when all are stored
   * and no refused message on that channel awaits its dead-lettering) and
   * requeues unsettled ones; refused ones are left to their dead-lettering.
   */
  private acknowledge(batch: Delivery[], outcomes: Outcome[]): void {
    const byChannel = new Map<Channel, { delivery: Delivery; stored: boolean | null }[]>();
    batch.forEach((delivery, i) => {
      if (!this.openGenerations.has(delivery.generation)) return; // gone: the broker redelivers
      const list = byChannel.get(delivery.channel) ?? [];
      list.push({ delivery, stored: outcomes[i].stored });
      byChannel.set(delivery.channel, list);
    });
    for (const [channel, list] of byChannel) {
      try {
        if (!this.awaitingDeadLetter.has(channel) && list.every((d) => d.stored === true)) {
          channel.ack(list[list.length - 1].delivery.message, true);
        } else {
          for (const { delivery, stored } of list) {
            if (stored === true) channel.ack(delivery.message);
            else if (stored === null) channel.nack(delivery.message, false, true);
          }
        }
      } catch (error) {
        this.log.warn('cannot acknowledge on a closed channel; the broker will redeliver', {
          reason: (error as Error).message,
        });
      }
    }
  }

  private report(batch: Delivery[], outcomes: Outcome[], seconds: number): void {
    let stored = 0;
    let rejected = 0;
    let unsettled = 0;
    let measures = 0;
    for (const o of outcomes) {
      if (o.stored === true) {
        stored++;
        measures += o.measures.length;
      } else if (o.stored === false) rejected++;
      else unsettled++;
    }
    // Refused ones are counted once their dead-letter copy is confirmed (or they are requeued).
    this.metrics.ingestMessages.inc({ outcome: 'stored' }, stored);
    this.metrics.ingestMessages.inc({ outcome: 'requeued' }, unsettled);
    this.metrics.ingestMeasures.inc(measures);
    this.metrics.ingestBatchSeconds.observe(seconds);
    this.log.info('batch stored', {
      event: 'ingest.batch',
      messages: batch.length,
      stored,
      rejected,
      requeued: unsettled,
      measures,
      latencyMs: Math.round(seconds * 1e6) / 1e3,
    });
  }

  /**
   * Resolves when no dead-letter publish is under way. While RabbitMQ blocks
   * publishing (a copy waits until the alarm lifts, up to
   * DEAD_LETTER_CONFIRM_MS) or the publishing connection is down, a stop
   * does not wait: the refused messages go back to the queue now, to be
   * refused again by whoever consumes them (a copy already sent may land
   * too: a dead-letter, like any message, arrives at least once).
   */
  private async deadLettersSettled(): Promise<void> {
    while (this.deadLettering.size > 0 && !this.abandoning) {
      if (this.connector.isPublishingBlocked() || !this.connector.isConnected('publish')) {
        this.log.warn('RabbitMQ takes no messages now (a resource alarm, or the connection is down): refused messages whose dead-letter copy it has not confirmed go back to the queue', {
          event: 'ingest.dead_letter_requeued',
          messages: this.deadLettering.size,
        });
        for (const { requeue } of [...this.deadLettering.values()]) requeue();
        return;
      }
      await Promise.race([Promise.all([...this.deadLettering.values()].map(({ done }) => done)), delay(BLOCKED_CHECK_MS, undefined, { ref: false })]);
    }
  }

  /**
   * Stops consuming, writes and acks what is in flight, closes the channel.
   * True when everything in flight was settled; false when the grace period
   * ran out first: retries stop, and a write that hangs (MySQL locked, or gone
   * without closing its connections) is no longer waited for. Closing the
   * channel hands every unacknowledged message back to the broker, and storing
   * them again is idempotent.
   */
  async stop(): Promise<boolean> {
    if (!this.wrapper || this.stopping) return true;
    this.stopping = true;
    if (this.consumer) await this.pause(this.consumer).catch(() => undefined);
    const settled = await settledWithin(
      this.flush().then(() => this.deadLettersSettled()),
      SHUTDOWN_GRACE_MS,
    );
    if (!settled) {
      this.abandoning = true;
      this.log.warn('shutdown grace period over: unsettled messages go back to the queue', { event: 'ingest.stop_abandoned' });
    }
    await this.wrapper.close().catch(() => undefined);
    this.wrapper = null;
    return settled;
  }
}
