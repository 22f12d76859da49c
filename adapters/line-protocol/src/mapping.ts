import { MeasureInput, fieldErrors, type FieldError } from '@mymonit/publisher';
import { excerpt, type Field, type LineError, type Point } from './line-protocol';
import { toEpochMillis, type Precision } from './precision';

/** How points become MyMONIT measures. */
export interface MappingOptions {
  /** Between the measurement and the field key in the sensor name: `cpu` + `.` + `usage_idle`. */
  sensorSeparator: string;
  /** false: the sensor is the field key alone. */
  measurementPrefix: boolean;
  /** The tag naming the experiment; it is not kept among the measure's tags. */
  experimentTag: string;
}

export const DEFAULT_MAPPING: MappingOptions = {
  sensorSeparator: '.',
  measurementPrefix: true,
  experimentTag: 'experiment',
};

/** What a write request says about all of its lines. */
export interface WriteContext {
  /** The `bucket` (v2) or `db` (v1) parameter: the experiment of lines without the experiment tag. */
  defaultExperiment?: string;
  /** The name of that parameter, for messages. */
  defaultSource: 'bucket' | 'db';
  precision: Precision;
  /** Epoch milliseconds given to points without a timestamp (the time the request arrived). */
  receivedAt: number;
}

export interface MappingResult {
  /** Every one valid for MyMONIT's schema, in the order of the lines. */
  measures: MeasureInput[];
  /** String fields: MyMONIT stores numbers, so they are left out. */
  skippedFields: number;
  errors: LineError[];
}

type NumericValue = { ok: true; value: number } | { ok: false; reason: string } | { ok: 'skip' };

function numericValue(field: Field): NumericValue {
  const { value } = field;
  switch (value.kind) {
    case 'float':
      return { ok: true, value: value.value };
    case 'boolean':
      return { ok: true, value: value.value ? 1 : 0 };
    case 'string':
      return { ok: 'skip' };
    case 'integer':
    case 'unsigned': {
      const limit = BigInt(Number.MAX_SAFE_INTEGER);
      if (value.value > limit || value.value < -limit) {
        return {
          ok: false,
          reason: `field "${excerpt(field.key)}": ${value.value} is beyond ±${Number.MAX_SAFE_INTEGER}, the largest integer a measure's value (a double) holds exactly`,
        };
      }
      return { ok: true, value: Number(value.value) };
    }
  }
}

function describeSchemaError(error: FieldError, measure: MeasureInput, experimentFrom: string, point: Point): string {
  switch (error.field) {
    case 'experiment_id':
      return `experiment "${excerpt(measure.experiment_id)}" (${experimentFrom}): ${error.message}`;
    case 'sensor':
      return `sensor "${excerpt(measure.sensor)}": ${error.message}`;
    case 'timestamp':
      return `timestamp ${point.timestamp === null ? measure.timestamp : point.timestamp}: ${error.message}`;
    default:
      return `${error.field}: ${error.message}`;
  }
}

/**
 * Turns parsed points into MyMONIT measures, one per numeric field, each
 * validated with MyMONIT's own schema. A line with any problem yields an
 * error naming it and no measure.
 */
export function mapPoints(points: Point[], context: WriteContext, options: MappingOptions = DEFAULT_MAPPING): MappingResult {
  const measures: MeasureInput[] = [];
  const errors: LineError[] = [];
  let skippedFields = 0;

  for (const point of points) {
    const problems = new Set<string>();
    const taggedExperiment = point.tags.find(([key]) => key === options.experimentTag)?.[1];
    const experiment = taggedExperiment ?? context.defaultExperiment;
    if (experiment === undefined || experiment === '') {
      errors.push({
        line: point.line,
        reason: `no experiment: the line has no "${options.experimentTag}" tag and the request no ${context.defaultSource} parameter`,
      });
      continue;
    }
    const experimentFrom =
      taggedExperiment !== undefined ? `tag "${options.experimentTag}"` : `the ${context.defaultSource} parameter`;
    const otherTags = point.tags.filter(([key]) => key !== options.experimentTag);
    const tags = otherTags.length > 0 ? Object.fromEntries(otherTags) : undefined;
    const timestamp = point.timestamp === null ? context.receivedAt : toEpochMillis(point.timestamp, context.precision);
    if (!Number.isSafeInteger(timestamp)) {
      // Only an hour or second timestamp near the int64 limits gets here; the schema would call it "not an integer".
      errors.push({ line: point.line, reason: `timestamp ${point.timestamp}: out of range (years 0001-9999)` });
      continue;
    }

    const lineMeasures: MeasureInput[] = [];
    for (const field of point.fields) {
      const value = numericValue(field);
      if (value.ok === 'skip') {
        skippedFields++;
        continue;
      }
      if (!value.ok) {
        problems.add(value.reason);
        continue;
      }
      const sensor = options.measurementPrefix
        ? `${point.measurement}${options.sensorSeparator}${field.key}`
        : field.key;
      const measure: MeasureInput = { experiment_id: experiment, sensor, value: value.value, timestamp, ...(tags && { tags }) };
      const checked = MeasureInput.safeParse(measure);
      if (checked.success) {
        lineMeasures.push(measure);
      } else {
        for (const error of fieldErrors(checked.error)) problems.add(describeSchemaError(error, measure, experimentFrom, point));
      }
    }
    if (problems.size > 0) errors.push({ line: point.line, reason: [...problems].join('; ') });
    else measures.push(...lineMeasures);
  }
  return { measures, skippedFields, errors };
}
