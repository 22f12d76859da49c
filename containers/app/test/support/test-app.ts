import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import mysql from 'mysql2/promise';
import type { DependencyContainer } from 'tsyringe';
import { Application } from '../../src/application';
import { loadConfig, type AppConfig } from '../../src/config';
import { buildContainer } from '../../src/container';
import { OpenApiChecker } from './openapi-checker';
import { ApiClient } from './api-client';
import { AmqpClient } from './amqp';
import { consoleCapture, logstashEnvironment } from './log-capture';
import { LOG_CONSOLE, Logging } from '../../src/logging/logging';
import { ExperimentRepository } from '../../src/storage/experiment.repository';
import { Migrator } from '../../src/storage/migrator';
import { StorageConnector } from '../../src/storage/storage-connector';

export interface TestApp {
  baseUrl: string;
  config: AppConfig;
  container: DependencyContainer;
  api: ApiClient;
  stop(): Promise<void>;
}

/** Environment of a test app: the local services, a database and AMQP names of its own. */
export function testEnvironment(overrides: Record<string, string> = {}): Record<string, string | undefined> {
  const suffix = `${process.pid}_${randomBytes(4).toString('hex')}`;
  return {
    NODE_ENV: 'test',
    // With the run's capture, the console goes to a file: log everything a deployment would.
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? (process.env.TEST_LOG_DIR ? 'info' : 'error'),
    ...logstashEnvironment(),
    DB_HOST: process.env.DB_HOST ?? '127.0.0.1',
    DB_PORT: process.env.DB_PORT ?? '3306',
    DB_USER: process.env.DB_USER ?? 'root',
    DB_PASSWORD: process.env.DB_PASSWORD ?? '',
    DB_DATABASE: `mymonit_test_${suffix}`,
    RABBIT_URL: process.env.RABBIT_URL ?? '127.0.0.1',
    RABBIT_EXCHANGE: `mymonit.test.${suffix}`,
    RABBIT_QUEUE: `measures.test.${suffix}`,
    REST_HOST: '127.0.0.1',
    REST_PORT: '0',
    FIREBASE_PROJECT_ID: 'demo-mymonit',
    FIREBASE_AUTH_EMULATOR_HOST: process.env.FIREBASE_AUTH_EMULATOR_HOST,
    ...overrides,
  };
}

/**
 * Starts the whole app in-process on an ephemeral port, against a fresh
 * database and AMQP names of its own; or, with `shareWith`, a second instance
 * on the same database and queues (that one cleans up nothing).
 */
export async function startTestApp(
  overrides: Record<string, string> = {},
  shareWith?: TestApp,
  options: { console?: Writable } = {},
): Promise<TestApp> {
  const shared: Record<string, string> = shareWith
    ? {
        DB_DATABASE: shareWith.config.db.database,
        RABBIT_EXCHANGE: shareWith.config.rabbit.exchange,
        RABBIT_QUEUE: shareWith.config.rabbit.queue,
      }
    : {};
  const config = loadConfig(testEnvironment({ ...shared, ...overrides }));
  const container = testContainer(config, options.console);
  const app = container.resolve(Application);
  const address = await app.start();
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const document = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as ConstructorParameters<typeof OpenApiChecker>[0];
  return {
    baseUrl,
    config,
    container,
    api: new ApiClient(baseUrl, new OpenApiChecker(document)),
    async stop() {
      await app.stop();
      if (shareWith) return;
      await dropDatabase(config);
      await removeTopology(config);
    },
  };
}

/** The app's container for a test: its console goes to the run's log capture (or the given stream). */
export function testContainer(config: AppConfig, console?: Writable): DependencyContainer {
  return buildContainer(config, { values: [[LOG_CONSOLE, console ?? consoleCapture() ?? 'process']] });
}

export async function removeTopology(config: AppConfig): Promise<void> {
  const client = await AmqpClient.connect(config).catch(() => null);
  if (!client) return;
  await client.deleteTopology().catch(() => undefined);
  await client.close();
}

export async function dropDatabase(config: AppConfig): Promise<void> {
  const connection = await mysql.createConnection({
    host: config.db.host,
    port: config.db.port,
    user: config.db.user,
    password: config.db.password,
  });
  await connection.query(`DROP DATABASE IF EXISTS \`${config.db.database}\``);
  await connection.end();
}

/**
 * A test database for apps started as processes of their own: migrated, with
 * one experiment, and nothing of this process left connected to it.
 */
export async function prepareDatabase(config: AppConfig, experimentId: string, name: string): Promise<void> {
  const container = testContainer(config);
  await container.resolve(Migrator).migrate();
  await container.resolve(ExperimentRepository).insert(experimentId, { name, description: '' }, new Date());
  await container.resolve(StorageConnector).close();
  await container.resolve(Logging).close();
}

/** The measures stored in a test database, counted on a connection of its own (fails fast while MySQL is down). */
export async function storedMeasures(config: AppConfig): Promise<number> {
  const { host, port, user, password, database } = config.db;
  const connection = await mysql.createConnection({ host, port, user, password, database, connectTimeout: 2000 });
  try {
    const [[row]] = (await connection.query('SELECT COUNT(*) AS n FROM measures')) as unknown as [[{ n: number }]];
    return Number(row.n);
  } finally {
    await connection.end();
  }
}
