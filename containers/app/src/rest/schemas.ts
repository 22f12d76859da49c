import { z } from 'zod';
import { ExperimentId, ID_PATTERN, SensorName } from '../model/measure-message';
import { ROLES } from '../model/user';

/**
 * The API's shapes (snake_case, as the original's clients expect). Requests are
 * validated with these and the OpenAPI document is generated from them.
 */

const DateTime = z.iso.datetime().meta({ example: '2026-11-23T10:00:00.123Z' });

export const UserId = z
  .string()
  .regex(ID_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 . _ : -')
  .meta({ description: 'User identifier chosen by the admin', example: 'S123' });

export const Role = z.enum(ROLES).meta({ id: 'Role' });

export const FieldErrorSchema = z.object({
  field: z.string().meta({ example: 'body.email' }),
  message: z.string(),
});

export const Problem = z
  .object({
    type: z.string().meta({ example: 'urn:mymonit:problem:validation' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    request_id: z.string().optional(),
    errors: z.array(FieldErrorSchema).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

export const UserSchema = z
  .object({
    user_id: UserId,
    name: z.string().nullable(),
    username: z.string().nullable().meta({ description: 'Firebase uid this user signs in with' }),
    email: z.string().nullable(),
    role: Role,
    created_at: DateTime,
    updated_at: DateTime,
    erased_at: DateTime.nullable().meta({ description: 'Set once the user was erased (GDPR)' }),
  })
  .meta({ id: 'User' });

const Profile = {
  name: z.string().trim().min(1).max(255).meta({ example: 'Ada Lovelace' }),
  username: z
    .string()
    .min(1)
    .max(128)
    .meta({ description: 'Firebase uid that signs in as this user', example: 'k3Jx9...' }),
  email: z.email().max(320).meta({ example: 'ada@example.org' }),
  role: Role,
};

export const CreateUserBody = z
  .strictObject({ user_id: UserId, ...Profile })
  .meta({ id: 'CreateUser' });

export const UpdateUserBody = z.strictObject(Profile).meta({ id: 'UpdateUser' });

export const ExperimentSchema = z
  .object({
    experiment_id: ExperimentId,
    name: z.string(),
    description: z.string(),
    created_at: DateTime,
    updated_at: DateTime,
  })
  .meta({ id: 'Experiment' });

export const ExperimentDetailsSchema = ExperimentSchema.extend({
  sensor_count: z.number().int(),
  last_measure_at: DateTime.nullable(),
}).meta({ id: 'ExperimentDetails' });

const ExperimentFields = {
  name: z.string().trim().min(1).max(255).meta({ example: 'ATLAS TDAQ test bench' }),
  description: z.string().max(10_000).default(''),
};

export const CreateExperimentBody = z
  .strictObject({ experiment_id: ExperimentId, ...ExperimentFields })
  .meta({ id: 'CreateExperiment' });

export const UpdateExperimentBody = z.strictObject(ExperimentFields).meta({ id: 'UpdateExperiment' });

export const AssociationBody = z.strictObject({ user_id: UserId }).meta({ id: 'AssociationRequest' });

export const AssociationSchema = z
  .object({ experiment_id: ExperimentId, user_id: UserId })
  .meta({ id: 'Association' });

const pageOf = <T extends z.ZodType>(item: T, id: string) =>
  z
    .object({
      items: z.array(item),
      next_cursor: z
        .string()
        .nullable()
        .meta({ description: 'Pass as `cursor` to get the next page; null on the last page' }),
    })
    .meta({ id });

export const UserPage = pageOf(UserSchema, 'UserPage');
export const ExperimentPage = pageOf(ExperimentSchema, 'ExperimentPage');
export const UserList = z.object({ items: z.array(UserSchema) }).meta({ id: 'UserList' });

export const SensorStatsSchema = z
  .object({
    sensor: SensorName,
    unit: z.string().nullable().meta({ description: 'Unit of the last measure' }),
    count: z.number().int(),
    first_timestamp: DateTime.nullable(),
    last_timestamp: DateTime.nullable(),
    last_value: z.number().nullable(),
  })
  .meta({ id: 'SensorStats' });

export const SensorList = z.object({ items: z.array(SensorStatsSchema) }).meta({ id: 'SensorList' });

export const MeasureSchema = z
  .object({
    experiment_id: ExperimentId,
    sensor: SensorName,
    timestamp: DateTime,
    value: z.number(),
    unit: z.string().nullable(),
    tags: z.record(z.string(), z.string()).nullable(),
  })
  .meta({ id: 'Measure' });

export const MeasurePage = pageOf(MeasureSchema, 'MeasurePage');

export const SummarySchema = z
  .object({
    experiment_id: ExperimentId,
    bucket: z.string().meta({ example: '1h' }),
    bucket_ms: z.number().int(),
    sensors: z.array(
      z.object({
        sensor: SensorName,
        buckets: z.array(
          z.object({
            start: DateTime,
            count: z.number().int(),
            min: z.number(),
            max: z.number(),
            avg: z.number(),
            first: z.number(),
            last: z.number(),
          }),
        ),
      }),
    ),
  })
  .meta({ id: 'MeasureSummary' });

export const WebConfigSchema = z
  .object({
    firebase: z.object({
      apiKey: z.string().nullable().meta({ description: 'null when the deployment has not set FIREBASE_WEB_API_KEY: the page cannot sign in' }),
      authDomain: z.string().nullable(),
      projectId: z.string().nullable(),
    }),
    authEmulatorUrl: z
      .string()
      .nullable()
      .meta({ description: 'Development only: the Firebase Auth Emulator the page signs in with' }),
  })
  .meta({ id: 'WebConfig' });

export const HealthSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });

export const ReadySchema = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.object({ mysql: z.enum(['up', 'down']), rabbitmq: z.enum(['up', 'down']) }),
  })
  .meta({ id: 'Readiness' });

/** Query and path parameters. */

export const UserIdParams = z.object({ user_id: UserId });
export const ExperimentIdParams = z.object({ experiment_id: ExperimentId });
export const AssociationParams = z.object({ experiment_id: ExperimentId, user_id: UserId });

const Limit = (max: number, fallback: number) =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(max)
    .default(fallback)
    .meta({ description: `Page size, 1 to ${max}` });

const Cursor = z.string().max(512).optional().meta({ description: '`next_cursor` of the previous page' });

export const PageQuery = z.object({ limit: Limit(1000, 100), cursor: Cursor });

export const UserListQuery = PageQuery.extend({
  include_erased: z
    .enum(['true', 'false'])
    .default('false')
    .meta({ description: 'Also list erased users (audit tombstones)' }),
});

export const DeleteExperimentQuery = z.object({
  force: z
    .enum(['true', 'false'])
    .default('false')
    .meta({ description: 'Also delete the experiment\u2019s measures' }),
});

/** ISO 8601 date-time with a zone (built once: building a schema costs more than using it). */
const IsoDateTime = z.iso.datetime({ offset: true });

/** A point in time in a query string: ISO 8601 with a zone, or epoch milliseconds. */
export const QueryTimestamp = z
  .string()
  .refine(
    (s) => /^-?\d{1,16}$/.test(s) || (IsoDateTime.safeParse(s).success && !Number.isNaN(Date.parse(s))),
    'must be an ISO 8601 date-time with a zone, or epoch milliseconds',
  )
  .transform((s) => (/^-?\d+$/.test(s) ? Number(s) : Date.parse(s)))
  .meta({ description: 'ISO 8601 date-time with a zone, or epoch milliseconds', example: '2026-11-23T00:00:00Z' });

const RangeQuery = {
  from: QueryTimestamp.optional().meta({ description: 'Start of the range, inclusive' }),
  to: QueryTimestamp.optional().meta({ description: 'End of the range, exclusive' }),
  sensor: z
    .array(SensorName)
    .max(100)
    .optional()
    .meta({ description: 'Only these sensors (repeat the parameter for several)' }),
};

export const MeasureQuery = z.object({
  ...RangeQuery,
  order: z.enum(['asc', 'desc']).default('desc'),
  limit: Limit(10_000, 1000),
  cursor: Cursor,
});

const BUCKET_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export const Bucket = z
  .string()
  .regex(/^[1-9]\d{0,5}[smhdw]$/, 'must be a number and a unit: s, m, h, d or w (e.g. 5m, 1h, 1d)')
  .meta({ description: 'Bucket width: a number and s, m, h, d or w; aligned on the epoch (UTC)', example: '1h' });

export const bucketMillis = (bucket: string): number =>
  Number(bucket.slice(0, -1)) * BUCKET_UNITS[bucket.slice(-1)];

export const SummaryQuery = z.object({ ...RangeQuery, bucket: Bucket });
