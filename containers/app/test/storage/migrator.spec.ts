import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { loadConfig } from '../../src/config';
import { Migrator } from '../../src/storage/migrator';
import { StorageConnector } from '../../src/storage/storage-connector';
import { Logging } from '../../src/logging/logging';
import { dropDatabase, testContainer, testEnvironment } from '../support/test-app';

describe('Migrator', () => {
  const config = loadConfig(testEnvironment());
  const containers = [testContainer(config), testContainer(config), testContainer(config)];
  after(async () => {
    for (const c of containers) {
      await c.resolve(StorageConnector).close();
      await c.resolve(Logging).close();
    }
    await dropDatabase(config);
  });

  it('When three instances migrate a missing database at once, then each migration is applied exactly once', async () => {
    const results = await Promise.all(containers.map((c) => c.resolve(Migrator).migrate()));
    assert.deepEqual(results.flat().sort(), [1, 2, 3]);
    const { host, port, user, password, database } = config.db;
    const connection = await mysql.createConnection({ host, port, user, password, database });
    const [rows] = await connection.query('SELECT version FROM schema_migrations');
    const [tables] = await connection.query('SHOW TABLES');
    await connection.end();
    assert.deepEqual(rows, [{ version: 1 }, { version: 2 }, { version: 3 }]);
    const names = (tables as Record<string, string>[]).map((t) => Object.values(t)[0]).sort();
    assert.deepEqual(names, ['experiment_users', 'experiments', 'measure_days', 'measure_days_stale', 'measure_hours', 'measure_hours_stale', 'measures', 'schema_migrations', 'sensors', 'users']);
  });

  it('When migrating an up-to-date database, then nothing is applied', async () => {
    assert.deepEqual(await containers[0].resolve(Migrator).migrate(), []);
  });
});
