import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { loadConfig, type AppConfig } from '../../src/config';
import { Logging } from '../../src/logging/logging';
import type { Measure } from '../../src/model/measure';
import { ExperimentRepository } from '../../src/storage/experiment.repository';
import { MeasureRepository, sqlSizesFor } from '../../src/storage/measure.repository';
import { Migrator } from '../../src/storage/migrator';
import { StorageConnector } from '../../src/storage/storage-connector';
import { dropDatabase, storedMeasures, testContainer, testEnvironment } from '../support/test-app';

const T = Date.parse('2026-11-23T10:00:00.000Z');
const MiB = 1024 * 1024;

describe('Ingestion writes on a server with a small max_allowed_packet', () => {
  let config: AppConfig;
  let storage: StorageConnector;
  let logging: Logging;
  let measures: MeasureRepository;
  let server: mysql.Connection;
  let serverPacket: number;

  before(async () => {
    config = loadConfig(testEnvironment());
    const container = testContainer(config);
    await container.resolve(Migrator).migrate();
    await container.resolve(ExperimentRepository).insert('PKT', { name: 'Packets', description: '' }, new Date());
    storage = container.resolve(StorageConnector);
    logging = container.resolve(Logging);
    measures = container.resolve(MeasureRepository);
    const { host, port, user, password } = config.db;
    server = await mysql.createConnection({ host, port, user, password });
    const [rows] = (await server.query('SELECT @@GLOBAL.max_allowed_packet AS value')) as unknown as [{ value: number }[]];
    serverPacket = Number(rows[0].value);
    // Before the ingestion pool opens a connection: its sessions take this value.
    await server.query('SET GLOBAL max_allowed_packet = ?', [1 * MiB]);
  });
  after(async () => {
    await server?.query('SET GLOBAL max_allowed_packet = ?', [serverPacket]);
    await server?.end();
    await storage?.close();
    await logging?.close();
    await dropDatabase(config);
  });

  it('When the server takes packets of 1 MiB, then statements and packets are cut to fit', () => {
    assert.deepEqual(sqlSizesFor(16 * MiB), { statementChars: 1 << 20, packetChars: 4 << 20 }, 'the defaults on MariaDB');
    assert.deepEqual(sqlSizesFor(64 * MiB), { statementChars: 1 << 20, packetChars: 4 << 20 }, 'the defaults on MySQL 8');
    const small = sqlSizesFor(1 * MiB);
    assert.equal(small.packetChars, small.statementChars);
    assert.ok(small.packetChars * 3 + 64 * 1024 <= 1 * MiB, 'three bytes a character, and room for one row more');
  });

  it('When a message of 5,000 heavily tagged measures (1.6 MB of SQL) is stored, then all are written, none refused as too large', async () => {
    const tag = 'x'.repeat(250);
    const message: Measure[] = Array.from({ length: 5_000 }, (_, i) => ({
      experimentId: 'PKT',
      sensor: `s${i % 10}`,
      timestamp: T + i,
      value: i,
      unit: 'K',
      tags: { note: tag },
    }));
    const refused = await measures.storeMessages([message]);
    assert.equal(refused.size, 0);
    assert.equal(await storedMeasures(config), 5_000);
  });
});
