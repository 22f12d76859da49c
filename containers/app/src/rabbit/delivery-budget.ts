/**
 * Keeps the bytes of the deliveries an instance holds (received, not yet
 * acknowledged) near a budget, whatever the size of the messages. The
 * broker's prefetch counts messages, not bytes (RabbitMQ ignores a prefetch
 * size), so 4,000 small messages are a few hundred kilobytes and 4,000 large
 * ones gigabytes. The listener asks this budget:
 * - when to stop consuming (over the budget) and when to consume again (back
 *   under half of it), so a burst of large messages waits in the broker;
 * - which prefetch to consume with: as many messages of the average size
 *   seen as fit in the budget, up to the configured prefetch. RabbitMQ applies
 *   a prefetch to consumers created after it is set, so a new prefetch takes
 *   a new consumer on the same channel (unacknowledged deliveries stay valid).
 */
export class DeliveryBudget {
  private bytes = 0;
  private averageSize: number | null = null;

  constructor(
    readonly budgetBytes: number,
    private readonly maxPrefetch: number,
  ) {}

  get unackedBytes(): number {
    return this.bytes;
  }

  received(size: number): void {
    this.bytes += size;
    // A moving average over the last few hundred messages.
    this.averageSize = this.averageSize === null ? size : this.averageSize + (size - this.averageSize) / 200;
  }

  released(size: number): void {
    this.bytes -= size;
  }

  /** Deliveries should stop: they hold more than the budget. */
  isOver(): boolean {
    return this.bytes > this.budgetBytes;
  }

  /** Deliveries may start again: they hold half the budget or less. */
  mayResume(): boolean {
    return this.bytes <= this.budgetBytes / 2;
  }

  /** Messages of the average size that fit in the budget (at least one, at most the configured prefetch). */
  prefetch(): number {
    if (this.averageSize === null) return this.maxPrefetch;
    return Math.max(1, Math.min(this.maxPrefetch, Math.floor(this.budgetBytes / Math.max(1, this.averageSize))));
  }

  /** Whether a consumer running with `current` should be replaced by one with a prefetch at least twice as large. */
  shouldRaise(current: number): boolean {
    return this.prefetch() >= current * 2;
  }
}
