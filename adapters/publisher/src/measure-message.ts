import { z } from 'zod';

/**
 * The one definition of a measure message (SPEC §3): the MyMONIT app's AMQP
 * ingestion, its HTTP ingestion and OpenAPI document, and every adapter
 * validate with it, so that what an adapter accepts the app stores.
 */

/** A bad value and where it was: `[3].value`, `sensor`, `body.email`. */
export interface FieldError {
  field: string;
  message: string;
}

/** One value of one sensor of one experiment at one instant (epoch milliseconds, UTC). */
export interface Measure {
  experimentId: string;
  sensor: string;
  timestamp: number;
  value: number;
  unit: string | null;
  tags: Record<string, string> | null;
}

export const MAX_MEASURES_PER_MESSAGE = 10_000;
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
export const SENSOR_PATTERN = /^[A-Za-z0-9._:/-]{1,128}$/;

const MIN_TIMESTAMP = Date.parse('0001-01-01T00:00:00.000Z');
const MAX_TIMESTAMP = Date.parse('9999-12-31T23:59:59.999Z');

export const ExperimentId = z
  .string()
  .regex(ID_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 . _ : -')
  .meta({ description: 'Experiment identifier', example: 'ATLAS-TDAQ-01' });

export const SensorName = z
  .string()
  .regex(SENSOR_PATTERN, 'must be 1-128 characters of A-Z a-z 0-9 . _ : / -')
  .meta({ description: 'Sensor name', example: 'magnet/temp-01' });

const OUT_OF_RANGE = 'out of range (years 0001-9999)';

/** A lone UTF-16 surrogate (`"\ud800"` in JSON): text no database column or JSON document can hold. */
const LONE_SURROGATE = /\p{Cs}/u;
const WELL_FORMED = 'must be well-formed Unicode (it holds a lone surrogate such as \\ud800)';

/** Free text of `min` to `max` UTF-16 code units that can be stored as it was sent. */
const text = (max: number, min = 0) =>
  (min > 0 ? z.string().min(min) : z.string()).max(max).refine((value) => !LONE_SURROGATE.test(value), WELL_FORMED);

/** ISO 8601 with a zone, or epoch milliseconds; at most millisecond precision. */
export const MeasureTimestamp = z
  .union([
    // First: the form instruments send, checked without a refinement.
    z
      .number()
      .int('epoch milliseconds must be an integer')
      .min(MIN_TIMESTAMP, OUT_OF_RANGE)
      .max(MAX_TIMESTAMP, OUT_OF_RANGE)
      .meta({ example: 1795428000123 }),
    z.iso
      .datetime({ offset: true })
      .superRefine((input, ctx) => {
        const fraction = /\.(\d+)/.exec(input)?.[1] ?? '';
        if (/[1-9]/.test(fraction.slice(3))) {
          ctx.addIssue({ code: 'custom', message: 'at most millisecond precision' });
        }
        const ms = Date.parse(input);
        if (!Number.isFinite(ms) || ms < MIN_TIMESTAMP || ms > MAX_TIMESTAMP) {
          ctx.addIssue({ code: 'custom', message: OUT_OF_RANGE });
        }
      })
      .meta({ example: '2026-11-23T10:00:00.123Z' }),
  ])
  .meta({ description: 'ISO 8601 date-time with a zone, or epoch milliseconds (UTC)' });

export const Tags = z
  .record(text(64, 1), text(256))
  .refine((tags) => Object.keys(tags).length <= 16, 'at most 16 tags')
  .meta({ description: 'Free string tags (at most 16)', example: { run: '42' } });

export const MeasureInput = z
  .strictObject({
    experiment_id: ExperimentId,
    sensor: SensorName,
    value: z.number().meta({ description: 'A finite double', example: 4.21 }),
    unit: text(16).nullish().meta({ example: 'K' }),
    timestamp: MeasureTimestamp,
    tags: Tags.nullish(),
  })
  .meta({ id: 'MeasureInput', description: 'One measure as published by an instrument' });

export const MeasureMessage = z
  .union([
    MeasureInput,
    z
      .array(MeasureInput)
      .min(1, 'at least one measure')
      .max(MAX_MEASURES_PER_MESSAGE, `at most ${MAX_MEASURES_PER_MESSAGE} measures`),
  ])
  .meta({
    id: 'MeasureMessage',
    description: `One measure, or an array of 1 to ${MAX_MEASURES_PER_MESSAGE} measures`,
  });

export type MeasureInput = z.input<typeof MeasureInput>;

function toEpochMillis(input: string | number): number {
  return typeof input === 'number' ? input : Date.parse(input);
}

type Issue = z.core.$ZodIssue;

/**
 * For a union, the issues of the branch the input was meant for: the one whose
 * issues are not a type mismatch of the value itself (an array given to the
 * object branch), then the one with the fewest issues.
 */
function unionBranch(branches: Issue[][]): Issue[] {
  const typeMismatch = (issues: Issue[]) => issues.some((i) => i.code === 'invalid_type' && i.path.length === 0);
  return [...branches].sort((a, b) => Number(typeMismatch(a)) - Number(typeMismatch(b)) || a.length - b.length)[0] ?? [];
}

function flatten(issues: Issue[], base: PropertyKey[] = []): { path: PropertyKey[]; message: string }[] {
  return issues.flatMap((issue) => {
    const path = [...base, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const branch = unionBranch(issue.errors);
      if (branch.length > 0 && !branch.every((i) => i.code === 'invalid_type' && i.path.length === 0)) {
        return flatten(branch, path);
      }
    }
    return [{ path, message: issue.message }];
  });
}

/** Turns zod issues into field errors, `prefix` naming where the value came from. */
export function fieldErrors(error: z.ZodError, prefix = ''): FieldError[] {
  return flatten(error.issues).map((issue) => ({ field: formatPath(prefix, issue.path), message: issue.message }));
}

export function formatPath(prefix: string, path: PropertyKey[]): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(root)';
}

export type ParsedMessage =
  | { ok: true; measures: Measure[] }
  | { ok: false; errors: FieldError[] };

/**
 * Validates a decoded message body. For an array, the error fields name the
 * measure index (`[3].value`) so a rejected message says which measure was bad.
 */
export function parseMeasureMessage(body: unknown): ParsedMessage {
  const result = MeasureMessage.safeParse(body);
  if (!result.success) return { ok: false, errors: fieldErrors(result.error) };
  return { ok: true, measures: toMeasures(result.data) };
}

/** Validated message input → domain measures (timestamps as epoch milliseconds). */
export function toMeasures(message: z.output<typeof MeasureMessage>): Measure[] {
  const inputs = Array.isArray(message) ? message : [message];
  return inputs.map((m) => ({
    experimentId: m.experiment_id,
    sensor: m.sensor,
    timestamp: toEpochMillis(m.timestamp),
    value: m.value,
    unit: m.unit ?? null,
    tags: m.tags && Object.keys(m.tags).length > 0 ? m.tags : null,
  }));
}
