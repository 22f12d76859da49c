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

/**
 * The JSON text of a page of measures, the same as
 * `JSON.stringify({ items: items.map(presentMeasure(experimentId)), next_cursor })`
 * (presenters.spec.ts holds it to that) without making the intermediate
 * objects: every string still goes through JSON.stringify, but each sensor
 * name, unit and timestamp once per page, and values are finite numbers
 * (storage refuses others), whose JSON is their String(). A 1,000-measure page
 * is the API's most frequent large answer.
 */
export function measurePageJson(experimentId: string, items: Omit<StoredMeasure, 'sensorRef'>[], nextCursor: string | null): string {
  const prefix = `{"experiment_id":${JSON.stringify(experimentId)},"sensor":`;
  const encoded = new Map<string, string>();
  const encode = (text: string) => {
    let json = encoded.get(text);
    if (json === undefined) {
      json = JSON.stringify(text);
      encoded.set(text, json);
    }
    return json;
  };
  const iso = isoTimestamps();
  const rows = items.map((m) => {
    if (!Number.isFinite(m.value)) throw new Error(`measure value ${m.value} is not a finite number`);
    const unit = m.unit === null ? 'null' : encode(m.unit);
    const tags = m.tags === null ? 'null' : JSON.stringify(m.tags);
    return `${prefix}${encode(m.sensor)},"timestamp":"${iso(m.timestamp)}","value":${String(m.value)},"unit":${unit},"tags":${tags}}`;
  });
  return `{"items":[${rows.join(',')}],"next_cursor":${nextCursor === null ? 'null' : JSON.stringify(nextCursor)}}`;
}

export function presentSummary(
  experimentId: string,
  bucket: string,
  bucketMs: number,
  rows: SummaryBucket[],
): z.input<typeof SummarySchema> {
  const bySensor = new Map<string, z.input<typeof SummarySchema>['sensors'][number]>();
  for (const row of rows) {
    let series = bySensor.get(row.sensor);
    if (!series) bySensor.set(row.sensor, (series = { sensor: row.sensor, buckets: [] }));
    series.buckets.push({
      start: new Date(row.bucket).toISOString(),
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
