import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { ExperimentRepository } from '../../src/storage/experiment.repository';
import { exportStatement, pageStatement } from '../../src/storage/measure.repository';
import { StorageConnector } from '../../src/storage/storage-connector';
import { startTestApp, type TestApp } from '../support/test-app';
import { T0, createAdmin, createExperiment, storeMeasures } from '../support/world';

/**
 * The raw reads must walk the measures' primary key (experiment, ts, sensor),
 * whatever the table's statistics say: then rows come out in the order asked,
 * with no sort of the whole range. The arrangement below (many sensors
 * elsewhere, an experiment whose rows the statistics have not seen) is the
 * one where MariaDB, when these reads still joined the sensor names, started
 * from the sensors and sorted in a temporary table.
 */
describe('Query plans of measure reads', () => {
  let app: TestApp;
  let ref: number;
  let explain: (sql: string, params: unknown[]) => Promise<RowDataPacket[]>;

  before(async () => {
    app = await startTestApp();
    const admin = await createAdmin(app);
    await createExperiment(app, admin, 'PLAN-OLD');
    await storeMeasures(
      app,
      'PLAN-OLD',
      Array.from({ length: 2000 }, (_, i) => ({ sensor: `old-${i % 500}`, timestamp: T0 + i, value: i, unit: null, tags: null })),
    );
    const storage = app.container.resolve(StorageConnector);
    await storage.pool.query('ANALYZE TABLE measures, sensors');
    await createExperiment(app, admin, 'PLAN-NEW');
    await storeMeasures(
      app,
      'PLAN-NEW',
      Array.from({ length: 20_000 }, (_, i) => ({ sensor: `new-${i % 5}`, timestamp: T0 + Math.floor(i / 5), value: i, unit: null, tags: null })),
    );
    ref = (await app.container.resolve(ExperimentRepository).findById('PLAN-NEW'))!.ref;
    // MySQL 9 explains as a tree by default; MariaDB has only the table format (and no such variable).
    const [[{ mysql }]] = await storage.pool.query<RowDataPacket[]>("SELECT VERSION() NOT LIKE '%MariaDB%' AS mysql");
    explain = async (sql, params) => {
      const connection = await storage.pool.getConnection();
      try {
        if (Number(mysql)) await connection.query("SET SESSION explain_format = 'TRADITIONAL'");
        const [rows] = await connection.execute<RowDataPacket[]>(`EXPLAIN ${sql}`, params as (string | number)[]);
        return rows;
      } finally {
        connection.release();
      }
    };
  });
  after(async () => {
    await app?.stop();
  });

  const assertKeyOrder = (plan: RowDataPacket[], what: string) => {
    const shown = JSON.stringify(plan.map((r) => ({ table: r.table, key: r.key, extra: r.Extra })));
    assert.equal(plan[0].table, 'm', `${what}: measures read first: ${shown}`);
    assert.equal(plan[0].key, 'PRIMARY', `${what}: by primary key: ${shown}`);
    assert.ok(plan.every((r) => !/filesort|temporary/i.test(String(r.Extra))), `${what}: no sort, no temporary table: ${shown}`);
  };

  it('When a whole experiment is exported, in either order, then MySQL reads the primary key in order and sorts nothing', async () => {
    for (const order of ['asc', 'desc'] as const) {
      const { sql, params } = exportStatement(ref, {}, order, null);
      assertKeyOrder(await explain(sql, params), `export ${order}`);
    }
  });

  it('When a page of a range is read, first or next, then MySQL reads the primary key in order and sorts nothing', async () => {
    const range = { from: T0, to: T0 + 3_000 };
    const first = pageStatement(ref, { ...range, order: 'desc', limit: 1000 }, null);
    assertKeyOrder(await explain(first.sql, first.params), 'first page');
    const next = pageStatement(ref, { ...range, order: 'asc', limit: 1000, after: { timestamp: T0 + 10, sensorRef: 1 } }, null);
    assertKeyOrder(await explain(next.sql, next.params), 'next page');
  });
});
