import type { z } from 'zod';
import type { Experiment, ExperimentDetails } from '../model/experiment';
import type { SensorStats, SummaryBucket } from '../model/measure';
import type { User } from '../model/user';
import type { StoredMeasure } from '../storage/measure.repository';
import type {
  ExperimentDetailsSchema,
  ExperimentSchema,
  MeasureSchema,
  SensorStatsSchema,
  SummarySchema,
  UserSchema,
} from './schemas';

/** Domain objects → API JSON (snake_case, ISO timestamps). */

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const presentUser = (u: User): z.input<typeof UserSchema> => ({
  user_id: u.userId,
  name: u.name,
  username: u.username,
  email: u.email,
  role: u.role,
  created_at: u.createdAt.toISOString(),
  updated_at: u.updatedAt.toISOString(),
  erased_at: u.erasedAt ? u.erasedAt.toISOString() : null,
});

export const presentExperiment = (e: Experiment): z.input<typeof ExperimentSchema> => ({
  experiment_id: e.experimentId,
  name: e.name,
  description: e.description,
  created_at: e.createdAt.toISOString(),
  updated_at: e.updatedAt.toISOString(),
});

export const presentExperimentDetails = (
  e: ExperimentDetails,
): z.input<typeof ExperimentDetailsSchema> => ({
  ...presentExperiment(e),
  sensor_count: e.sensorCount,
  last_measure_at: iso(e.lastMeasureAt),
});

export const presentSensor = (s: SensorStats): z.input<typeof SensorStatsSchema> => ({
  sensor: s.sensor,
  unit: s.unit,
  count: s.count,
  first_timestamp: iso(s.firstTimestamp),
  last_timestamp: iso(s.lastTimestamp),
  last_value: s.lastValue,
});

/**
 * ISO 8601 form of timestamps that come in time order, many rows sharing one
 * (every sensor at the same instant): made once per timestamp, not once per
 * row. Formatting dates was a third of serving a 1,000-measure page.
 */
export function isoTimestamps(): (ms: number) => string {
  let last = Number.NaN;
  let text = '';
  return (ms) => {
    if (ms !== last) {
      last = ms;
      text = new Date(ms).toISOString();
    }
    return text;
  };
}

/** A mapper for one response's measures (it remembers the last timestamp it formatted). */
export const presentMeasure = (experimentId: string) => {
  const iso = isoTimestamps();
  return (m: Omit<StoredMeasure, 'sensorRef'>): z.input<typeof MeasureSchema> => ({
    experiment_id: experimentId,
    sensor: m.sensor,
    timestamp: iso(m.timestamp),
    value: m.value,
    unit: m.unit,
    tags: m.tags,
  });
};

export function presentSummary(
  experimentId: string,
  bucket: string,
  bucketMs: number,
  rows: SummaryBucket[],
): z.input<typeof SummarySchema> {
  const bySensor = new Map<string, z.input<typeof SummarySchema>['sensors'][number]>();
  // Every sensor has the same bucket starts: each is formatted once, not once per sensor.
  const starts = new Map<number, string>();
  for (const row of rows) {
    let series = bySensor.get(row.sensor);
    if (!series) bySensor.set(row.sensor, (series = { sensor: row.sensor, buckets: [] }));
    let start = starts.get(row.bucket);
    if (start === undefined) starts.set(row.bucket, (start = new Date(row.bucket).toISOString()));
    series.buckets.push({
      start,
      count: row.count,
      min: row.min,
      max: row.max,
      avg: row.avg,
      first: row.first,
      last: row.last,
    });
  }
  return { experiment_id: experimentId, bucket, bucket_ms: bucketMs, sensors: [...bySensor.values()] };
}
