import { inject, injectable } from 'tsyringe';
import type { Readable } from 'node:stream';
import { ValidationError } from '../errors';
import { MeasurePublisher } from '../rabbit/measure-publisher';
import type { MeasureInput } from '../model/measure-message';
import type { MeasureCursor, MeasureRange, SensorStats, SortOrder, SummaryBucket } from '../model/measure';
import type { Actor } from '../model/user';
import { MeasureRepository, type StoredMeasure } from '../storage/measure.repository';
import { decodeCursor, pageOf, type Page } from './cursor';
import { ExperimentAccess } from './experiment-access';

export const MAX_BUCKETS_PER_SENSOR = 10_000;

export interface MeasurePageRequest extends MeasureRange {
  order: SortOrder;
  limit: number;
  cursor?: string;
}

interface CursorPosition {
  t: number;
  s: number;
  o: SortOrder;
}

const isCursorPosition = (value: unknown): value is CursorPosition => {
  const c = value as CursorPosition;
  return (
    typeof c === 'object' &&
    c !== null &&
    Number.isSafeInteger(c.t) &&
    Number.isSafeInteger(c.s) &&
    (c.o === 'asc' || c.o === 'desc')
  );
};

@injectable()
export class MeasureService {
  constructor(
    @inject(MeasureRepository) private readonly measures: MeasureRepository,
    @inject(ExperimentAccess) private readonly access: ExperimentAccess,
    @inject(MeasurePublisher) private readonly publisher: MeasurePublisher,
  ) {}

  /**
   * HTTP ingestion: a validated message for this experiment goes to the same
   * exchange as instruments' messages, and so through the same pipeline.
   * Resolves once the broker has confirmed it.
   */
  async submit(actor: Actor, experimentId: string, message: MeasureInput | MeasureInput[], messageId: string): Promise<number> {
    await this.access.visibleExperiment(actor, experimentId);
    const list = Array.isArray(message) ? message : [message];
    const foreign = list
      .map((m, i) => ({ m, i }))
      .filter(({ m }) => m.experiment_id !== experimentId)
      .map(({ i }) => ({
        field: Array.isArray(message) ? `body[${i}].experiment_id` : 'body.experiment_id',
        message: `must be ${experimentId}, the experiment of the URL`,
      }));
    if (foreign.length > 0) throw new ValidationError(foreign.slice(0, 20));
    await this.publisher.publish(Buffer.from(JSON.stringify(message)), { messageId, userId: actor.userId });
    return list.length;
  }

  async sensors(actor: Actor, experimentId: string): Promise<SensorStats[]> {
    const experiment = await this.access.visibleExperiment(actor, experimentId);
    return this.measures.sensors(experiment.ref);
  }

  /** One page of raw measures, keyset-paginated on (timestamp, sensor). */
  async page(actor: Actor, experimentId: string, request: MeasurePageRequest): Promise<Page<StoredMeasure>> {
    const experiment = await this.access.visibleExperiment(actor, experimentId);
    let after: MeasureCursor | undefined;
    if (request.cursor) {
      const position = decodeCursor(request.cursor, isCursorPosition);
      if (position.o !== request.order) {
        throw new ValidationError([{ field: 'query.cursor', message: 'cursor was made for the other order' }]);
      }
      after = { timestamp: position.t, sensorRef: position.s };
    }
    const rows = await this.measures.page(experiment.ref, { ...request, limit: request.limit + 1, after });
    return pageOf(rows, request.limit, (last) => ({ t: last.timestamp, s: last.sensorRef, o: request.order }));
  }

  /** Every measure of the range, streamed in batches (for CSV export). */
  async export(actor: Actor, experimentId: string, range: MeasureRange, order: SortOrder): Promise<Readable> {
    const experiment = await this.access.visibleExperiment(actor, experimentId);
    return this.measures.stream(experiment.ref, range, order);
  }

  async summary(actor: Actor, experimentId: string, range: MeasureRange, bucketMs: number): Promise<SummaryBucket[]> {
    const experiment = await this.access.visibleExperiment(actor, experimentId);
    let { from, to } = range;
    // An open end reaches the experiment's first or last measure (none: nothing to summarise).
    if (from === undefined || to === undefined) {
      const span = await this.measures.timeSpan(experiment.ref);
      if (!span) return [];
      from ??= Math.floor(span.first / bucketMs) * bucketMs;
      to ??= span.last + 1;
    }
    const buckets = Math.ceil((to - from) / bucketMs);
    if (buckets > MAX_BUCKETS_PER_SENSOR) {
      throw new ValidationError([
        {
          field: 'query.bucket',
          message: `the range holds ${buckets} buckets per sensor, at most ${MAX_BUCKETS_PER_SENSOR}: choose a larger bucket or a shorter range`,
        },
      ]);
    }
    return this.measures.summary(experiment.ref, { ...range, from, to }, bucketMs);
  }
}
