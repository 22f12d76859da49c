/** One value of one sensor of one experiment at one instant: defined with the message schema. */
export type { Measure } from '@mymonit/publisher/schema';

export interface SensorStats {
  sensor: string;
  unit: string | null;
  count: number;
  firstTimestamp: number | null;
  lastTimestamp: number | null;
  lastValue: number | null;
}

export interface SummaryBucket {
  sensor: string;
  /** Start of the bucket, epoch milliseconds. */
  bucket: number;
  count: number;
  min: number;
  max: number;
  avg: number;
  first: number;
  last: number;
}

export type SortOrder = 'asc' | 'desc';

/** Position after the last row of a page: the key of that row. */
export interface MeasureCursor {
  timestamp: number;
  sensorRef: number;
}

export interface MeasureRange {
  from?: number;
  to?: number;
  sensors?: string[];
}

export interface MeasurePageQuery extends MeasureRange {
  order: SortOrder;
  limit: number;
  after?: MeasureCursor;
}
