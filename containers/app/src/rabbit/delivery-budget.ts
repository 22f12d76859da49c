import { MAX_MESSAGE_BYTES } from '../model/measure-message';

/** The bytes and measures of some deliveries. */
export interface Held {
  bytes: number;
  measures: number;
}

/**
 * Keeps what an instance holds of its deliveries (received, not yet
 * acknowledged) within a budget of bytes and of measures, whatever the size
 * of the messages. The broker's prefetch counts messages, not bytes (RabbitMQ
 * ignores a prefetch size), so 4,000 single measures are a few hundred
 * kilobytes, and 4,000 messages of 1,000 measures 400 MB of JSON and ten
 * times that decoded. Measures are bounded too because decoded they cost
 * several times their JSON, and a few batches' worth ahead of the writer is
 * all it can use. The listener asks this budget:
 * - when to stop consuming (over either bound) and when to consume again
 *   (back under half of both), so a burst of large messages waits in the
 *   broker;
 * - which prefetch to consume with: as many messages of the average seen
 *   (bytes and measures) as fit, up to the configured prefetch. Until a
 *   message has been seen, messages are assumed as large as allowed
 *   (16 MiB), so a queue full of large messages cannot flood a starting
 *   instance; the first messages tell the real size. The averages follow a
 *   rise at once and a fall slowly: over-estimating costs a little throughput
 *   for a while, under-estimating costs memory.
 * RabbitMQ applies a prefetch to consumers created after it is set, so a new
 * prefetch takes a new consumer on the same channel (unacknowledged
 * deliveries stay valid).
 */
export class DeliveryBudget {
  private readonly held: Held = { bytes: 0, measures: 0 };
  private readonly average: Held = { bytes: MAX_MESSAGE_BYTES, measures: 1 };
  private seen = false;
  /** The largest delivery handed back and not taken since: deliveries resume only once it fits. */
  private handedBackBytes = 0;

  constructor(
    private readonly limit: Held,
    private readonly maxPrefetch: number,
  ) {}

  get unackedBytes(): number {
    return this.held.bytes;
  }

  get unackedMeasures(): number {
    return this.held.measures;
  }

  received(message: Held): void {
    this.held.bytes += message.bytes;
    this.held.measures += message.measures;
    if (message.bytes >= this.handedBackBytes) this.handedBackBytes = 0;
    this.learn(message);
  }

  /** A delivery handed back without being held (see `mustHandBack`): its size still tells the average. */
  handedBack(bytes: number): void {
    this.handedBackBytes = Math.max(this.handedBackBytes, bytes);
    this.learn({ bytes, measures: this.average.measures });
  }

  /**
   * Whether a delivery of `bytes` should go back to the broker rather than be
   * held: with it, what is held would pass twice the budget. The prefetch
   * counts messages, so when large messages follow small ones the broker
   * sends as many as the prefetch set for the small ones allows, before any
   * pause can take effect. Never when nothing is held, so that a message
   * larger than the whole budget is still taken, alone.
   */
  mustHandBack(bytes: number): boolean {
    if (this.held.bytes === 0 && this.held.measures === 0) return false;
    return this.held.bytes + bytes > 2 * this.limit.bytes || this.held.measures > 2 * this.limit.measures;
  }

  private learn(message: Held): void {
    if (!this.seen) {
      this.seen = true;
      Object.assign(this.average, message);
      return;
    }
    // Up within a few messages, down over a few hundred.
    for (const key of ['bytes', 'measures'] as const) {
      const delta = message[key] - this.average[key];
      this.average[key] += delta / (delta > 0 ? 4 : 200);
    }
  }

  released(message: Held): void {
    this.held.bytes -= message.bytes;
    this.held.measures -= message.measures;
  }

  /** Deliveries should stop: they hold more than the budget allows. */
  isOver(): boolean {
    return this.held.bytes > this.limit.bytes || this.held.measures > this.limit.measures;
  }

  /**
   * Deliveries may start again: they hold half the budget or less, and the
   * largest delivery handed back, which the broker sends first, would be taken
   * (else it would only be handed back again, once more towards a quorum
   * queue's delivery limit).
   */
  mayResume(): boolean {
    if (this.held.bytes > this.limit.bytes / 2 || this.held.measures > this.limit.measures / 2) return false;
    return this.handedBackBytes === 0 || !this.mustHandBack(this.handedBackBytes);
  }

  /** Messages of the average seen that fit in the budget (at least one, at most the configured prefetch). */
  prefetch(): number {
    const byBytes = this.limit.bytes / Math.max(1, this.average.bytes);
    const byMeasures = this.limit.measures / Math.max(1, this.average.measures);
    return Math.max(1, Math.min(this.maxPrefetch, Math.floor(Math.min(byBytes, byMeasures))));
  }

  /**
   * Whether a consumer running with `current` should be replaced by one with
   * a prefetch at least twice as large: only while half the budget or less is
   * held, since the old consumer's deliveries stay held beside the new one's.
   */
  shouldRaise(current: number): boolean {
    return this.mayResume() && this.prefetch() >= current * 2;
  }
}
