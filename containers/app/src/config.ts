import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/** Injection token of the validated configuration. */
export const CONFIG = Symbol('AppConfig');

const emptyAsUnset = (value: unknown) => (value === '' ? undefined : value);
const text = (fallback: string) => z.preprocess(emptyAsUnset, z.string().default(fallback));
const optionalText = z.preprocess(emptyAsUnset, z.string().optional());
const port = (fallback: number, min = 1) =>
  z.preprocess(emptyAsUnset, z.coerce.number().int().min(min).max(65535).default(fallback));
const identifier = (fallback: string) =>
  z.preprocess(
    emptyAsUnset,
    z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,200}$/, 'letters, digits and _ . : - only')
      .default(fallback),
  );

const environmentSchema = z
  .object({
    NODE_ENV: z.preprocess(
      emptyAsUnset,
      z.enum(['production', 'development', 'test']).default('development'),
    ),
    LOG_LEVEL: z.preprocess(
      emptyAsUnset,
      z.enum(['error', 'warn', 'info', 'http', 'debug']).default('info'),
    ),
    DB_USER: text('root'),
    // An empty DB_PASSWORD is a real (empty) password, not "unset".
    DB_PASSWORD: z.string().default('password'),
    DB_HOST: text('localhost'),
    DB_PORT: port(3306),
    DB_DATABASE: z.preprocess(
      emptyAsUnset,
      z
        .string()
        .regex(/^[A-Za-z0-9_]{1,64}$/, 'letters, digits and _ only, at most 64')
        .default('my_monit'),
    ),
    DB_POOL_SIZE: z.preprocess(emptyAsUnset, z.coerce.number().int().min(1).max(200).default(10)),
    RABBIT_URL: text('localhost'),
    RABBIT_USER: text('guest'),
    RABBIT_PASSWORD: z.string().default('guest'),
    RABBIT_EXCHANGE: identifier('mymonit'),
    RABBIT_ROUTING: identifier('measures'),
    RABBIT_QUEUE: identifier('measures'),
    RABBIT_QUEUE_TYPE: z.preprocess(emptyAsUnset, z.enum(['classic', 'quorum']).default('classic')),
    INGEST_PREFETCH: z.preprocess(emptyAsUnset, z.coerce.number().int().min(1).max(65535).default(4000)),
    INGEST_BATCH_MESSAGES: z.preprocess(emptyAsUnset, z.coerce.number().int().min(1).max(10_000).default(500)),
    INGEST_BATCH_WAIT_MS: z.preprocess(emptyAsUnset, z.coerce.number().int().min(0).max(10_000).default(20)),
    INGEST_MAX_UNACKED_MB: z.preprocess(emptyAsUnset, z.coerce.number().int().min(1).max(65_536).default(64)),
    INGEST_WRITE_TIMEOUT_MS: z.preprocess(emptyAsUnset, z.coerce.number().int().min(1_000).max(3_600_000).default(60_000)),
    ACCESS_CACHE_SECONDS: z.preprocess(emptyAsUnset, z.coerce.number().int().min(0).max(300).default(10)),
    APP_WORKERS: z.preprocess(emptyAsUnset, z.coerce.number().int().min(1).max(64).default(1)),
    REST_HOST: text('0.0.0.0'),
    REST_PORT: port(5000, 0),
    LOGSTASH_HOST: text('localhost'),
    LOGSTASH_PORT: port(5959),
    LOGSTASH_ENABLED: z.preprocess(emptyAsUnset, z.enum(['true', 'false']).default('true')),
    LOGSTASH_BUFFER_LINES: z.preprocess(
      emptyAsUnset,
      z.coerce.number().int().min(100).max(1_000_000).default(20_000),
    ),
    GOOGLE_APPLICATION_CREDENTIALS: optionalText,
    FIREBASE_PROJECT_ID: optionalText,
    FIREBASE_AUTH_EMULATOR_HOST: optionalText,
    // The web page's Firebase JS SDK settings (served at /config.json): public values, not secrets.
    FIREBASE_WEB_API_KEY: optionalText,
    FIREBASE_AUTH_DOMAIN: optionalText,
    WEB_ROOT: optionalText,
  });

/**
 * Rules across variables. They run on the raw environment even when single
 * values are invalid, so one start-up attempt reports every problem.
 */
function crossChecks(environment: NodeJS.ProcessEnv, verifiesTokens: boolean): string[] {
  const set = (name: string) => Boolean(environment[name]);
  const problems: string[] = [];
  if (verifiesTokens && !set('FIREBASE_PROJECT_ID') && !set('GOOGLE_APPLICATION_CREDENTIALS')) {
    problems.push('FIREBASE_PROJECT_ID: required (or GOOGLE_APPLICATION_CREDENTIALS naming a service account file)');
  }
  if (environment.NODE_ENV === 'production' && set('FIREBASE_AUTH_EMULATOR_HOST')) {
    problems.push(
      'FIREBASE_AUTH_EMULATOR_HOST: must not be set when NODE_ENV=production (it disables token signature checks)',
    );
  }
  const rabbitUrl = environment.RABBIT_URL ?? '';
  if (/^amqps?:\/\//.test(rabbitUrl) && !URL.canParse(rabbitUrl)) {
    problems.push('RABBIT_URL: not a valid AMQP URL');
  }
  return problems;
}

export interface AppConfig {
  env: 'production' | 'development' | 'test';
  logLevel: 'error' | 'warn' | 'info' | 'http' | 'debug';
  db: {
    host: string;
    port: number;
    user: string;
    password: string;
    database: string;
    poolSize: number;
  };
  rabbit: {
    /** Full AMQP URL with credentials: never log it, use `rabbitEndpoint`. */
    url: string;
    exchange: string;
    routingKey: string;
    queue: string;
    queueType: 'classic' | 'quorum';
  };
  ingest: {
    /** Unacknowledged deliveries the broker may push to this instance. */
    prefetch: number;
    /** A batch is written when it holds this many messages (or 10,000 measures, or 8 MiB)... */
    batchMessages: number;
    /** ...or when its first message has waited this long. */
    batchWaitMs: number;
    /** Bytes of received, unacknowledged messages above which consuming pauses (and the prefetch is lowered). */
    maxUnackedBytes: number;
    /**
     * The longest one statement of a batch's transaction may take: past it the
     * connection is dropped (the server rolls the transaction back) and the
     * batch retried on a new one. Bounds a write to a MySQL cut off without a
     * word (a network partition, a failover that leaves the old connection
     * hanging), which TCP would only notice after many minutes.
     */
    writeTimeoutMs: number;
  };
  rest: { host: string; port: number };
  /**
   * Processes of the app on this host (node:cluster): each one a whole instance
   * (REST on the shared port, an ingestion consumer, live streams), as two
   * instances on two hosts would be. 1: no cluster.
   */
  workers: number;
  /**
   * How long a user lookup and an experiment's access check are reused. Every
   * change made through the API clears them on every instance at once; the
   * limit covers changes made otherwise (SQL, the admin:create command). 0: off.
   */
  accessCacheSeconds: number;
  logstash: {
    enabled: boolean;
    host: string;
    port: number;
    /** Lines held while Logstash is unreachable or slow; beyond it the oldest are dropped. */
    bufferLines: number;
  };
  firebase: {
    projectId?: string;
    credentialsFile?: string;
    emulatorHost?: string;
    /** Web API key and auth domain of the Firebase project, for the web page's sign-in. */
    webApiKey?: string;
    authDomain?: string;
  };
  /** The built web page (containers/web/dist), served at `/`. */
  webRoot: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** RABBIT_URL is either a host (optionally host:port) or a full amqp(s):// URL. */
function amqpUrl(hostOrUrl: string, user: string, password: string): string {
  if (/^amqps?:\/\//.test(hostOrUrl)) {
    const url = new URL(hostOrUrl);
    if (!url.username) {
      url.username = encodeURIComponent(user);
      url.password = encodeURIComponent(password);
    }
    return url.toString();
  }
  return `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${hostOrUrl}`;
}

/**
 * Reads the configuration from environment variables (SPEC §6) and reports every
 * invalid value at once. `verifiesTokens: false` is for the tools that work on
 * MySQL alone (admin:create, migrate): they need no Firebase project.
 */
export function loadConfig(environment: NodeJS.ProcessEnv = process.env, { verifiesTokens = true } = {}): AppConfig {
  const parsed = environmentSchema.safeParse(environment);
  const problems = [
    ...(parsed.error?.issues ?? []).map((issue) => {
      const name = issue.path.join('.');
      const given = environment[name];
      const shown = given === undefined || /PASSWORD|CREDENTIALS/.test(name) ? '' : ` (got "${given}")`;
      return `${name}: ${issue.message}${shown}`;
    }),
    ...crossChecks(environment, verifiesTokens),
  ];
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const env = parsed.data;
  return {
    env: env.NODE_ENV,
    logLevel: env.LOG_LEVEL,
    db: {
      host: env.DB_HOST,
      port: env.DB_PORT,
      user: env.DB_USER,
      password: env.DB_PASSWORD,
      database: env.DB_DATABASE,
      poolSize: env.DB_POOL_SIZE,
    },
    rabbit: {
      url: amqpUrl(env.RABBIT_URL, env.RABBIT_USER, env.RABBIT_PASSWORD),
      exchange: env.RABBIT_EXCHANGE,
      routingKey: env.RABBIT_ROUTING,
      queue: env.RABBIT_QUEUE,
      queueType: env.RABBIT_QUEUE_TYPE,
    },
    ingest: {
      prefetch: env.INGEST_PREFETCH,
      batchMessages: env.INGEST_BATCH_MESSAGES,
      batchWaitMs: env.INGEST_BATCH_WAIT_MS,
      maxUnackedBytes: env.INGEST_MAX_UNACKED_MB * 1024 * 1024,
      writeTimeoutMs: env.INGEST_WRITE_TIMEOUT_MS,
    },
    rest: { host: env.REST_HOST, port: env.REST_PORT },
    workers: env.APP_WORKERS,
    accessCacheSeconds: env.ACCESS_CACHE_SECONDS,
    logstash: {
      enabled: env.LOGSTASH_ENABLED === 'true',
      host: env.LOGSTASH_HOST,
      port: env.LOGSTASH_PORT,
      bufferLines: env.LOGSTASH_BUFFER_LINES,
    },
    firebase: {
      projectId: env.FIREBASE_PROJECT_ID,
      credentialsFile: env.GOOGLE_APPLICATION_CREDENTIALS,
      emulatorHost: env.FIREBASE_AUTH_EMULATOR_HOST,
      webApiKey: env.FIREBASE_WEB_API_KEY,
      authDomain: env.FIREBASE_AUTH_DOMAIN,
    },
    // From src/ (tsx) and from dist/ (built) alike: containers/web/dist.
    webRoot: env.WEB_ROOT ?? join(__dirname, '..', '..', 'web', 'dist'),
  };
}

/** The broker address without credentials, for logs and /ready. */
export function rabbitEndpoint(config: AppConfig): string {
  const url = new URL(config.rabbit.url);
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

/** The effective configuration with every secret masked, for the start-up log line. */
export function describeConfig(config: AppConfig): Record<string, unknown> {
  return {
    env: config.env,
    logLevel: config.logLevel,
    db: { ...config.db, password: '***' },
    rabbit: { ...config.rabbit, url: rabbitEndpoint(config) },
    ingest: config.ingest,
    rest: config.rest,
    workers: config.workers,
    accessCacheSeconds: config.accessCacheSeconds,
    logstash: config.logstash,
    firebase: {
      projectId: config.firebase.projectId,
      credentialsFile: config.firebase.credentialsFile ? '***' : undefined,
      emulatorHost: config.firebase.emulatorHost,
      webApiKey: config.firebase.webApiKey,
      authDomain: config.firebase.authDomain,
    },
    webRoot: config.webRoot,
  };
}

/**
 * Loads `.env` from where npm was run (the repository root, like Docker
 * Compose) or else the working directory. Variables already set in the
 * environment win over the file.
 */
export function loadEnvFile(): string | null {
  for (const dir of [process.env.INIT_CWD, process.cwd()]) {
    const file = dir ? join(dir, '.env') : null;
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- .env in npm's or the process's own directory
    if (file && existsSync(file)) {
      process.loadEnvFile(file);
      return file;
    }
  }
  return null;
}

/** Every environment variable the app reads (deployment files are checked against it). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(environmentSchema.shape);
