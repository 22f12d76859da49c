import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { ExperimentRepository } from '../../src/storage/experiment.repository';
import { MeasureRepository, floorDiv } from '../../src/storage/measure.repository';
import { StorageConnector } from '../../src/storage/storage-connector';
import { startTestApp, type TestApp } from '../support/test-app';
import { createAdmin, createExperiment, storeMeasures } from '../support/world';

/**
 * A measure belongs to the bucket its timestamp falls in, up to its last
 * millisecond. MySQL divides integers into a DECIMAL rounded to 4 places, so
 * FLOOR(ts / bucket) there put the last moments of a bucket into the next one
 * (MariaDB did not): these cases fail on MySQL with that expression.
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 0, 5);

describe('Bucket edges of summaries', () => {
  let app: TestApp;
  let storage: StorageConnector;

  before(async () => {
    app = await startTestApp();
    storage = app.container.resolve(StorageConnector);
  });
  after(async () => app?.stop());

  it('When integers are floor-divided in SQL, then the result is the mathematical floor, below zero too', async () => {
    const cases: [number, number][] = [];
    for (const divisor of [24, 60_000, HOUR, DAY, 2 * DAY, 7 * DAY]) {
      for (const edge of [0, divisor, -divisor, 1_767_744_000_000 - (1_767_744_000_000 % divisor), -1_000 * divisor]) {
        for (const delta of [-1, 0, 1, -10]) cases.push([edge + delta, divisor]);
      }
    }
    cases.push([1_767_743_999_990, 2 * DAY]);
    const [rows] = await storage.pool.query<RowDataPacket[]>(
      cases
        .map(([n, d]) => `SELECT ${n} AS n, ${d} AS d, ${floorDiv(String(n), d)} AS q, ${n >= 0 ? floorDiv(String(n), d, true) : 'NULL'} AS qn`)
        .join(' UNION ALL '),
    );
    const wrong = rows.filter(
      (r) => Number(r.q) !== Math.floor(Number(r.n) / Number(r.d)) || (r.qn !== null && Number(r.qn) !== Number(r.q)),
    );
    assert.equal(rows.length, cases.length);
    assert.deepEqual(wrong, [], 'every quotient is the floor');
    assert.throws(() => floorDiv('ts', 1.5), /not a positive whole divisor/);
    assert.throws(() => floorDiv('ts', 0), /not a positive whole divisor/);
  });

  it('When measures sit on the last millisecond of buckets, then raw and rolled-up summaries count them in their own bucket', async () => {
    const admin = await createAdmin(app);
    await createExperiment(app, admin, 'EXP-EDGES');
    const ref = (await app.container.resolve(ExperimentRepository).findById('EXP-EDGES'))!.ref;
    const stamps = [START, START + HOUR - 1, START + HOUR, START + DAY - 10, START + DAY - 1, START + 2 * DAY - 1, START + 2 * DAY, START - 1];
    await storeMeasures(
      app,
      'EXP-EDGES',
      stamps.map((timestamp, i) => ({ sensor: 'edge', timestamp, value: i, unit: null, tags: null })),
    );
    const measures = app.container.resolve(MeasureRepository);
    const range = { from: START - 2 * DAY, to: START + 4 * DAY };
    for (const bucket of [60_000, HOUR, DAY, 2 * DAY]) {
      const expected = new Map<number, number>();
      for (const ts of stamps) {
        const start = Math.floor(ts / bucket) * bucket;
        expected.set(start, (expected.get(start) ?? 0) + 1);
      }
      const counts = (buckets: { bucket: number; count: number }[]) => new Map(buckets.map((b) => [b.bucket, b.count]));
      const raw = await measures.rawSummary(ref, range, bucket, null);
      assert.deepEqual(counts(raw), expected, `raw summary, buckets of ${bucket / 60_000} min`);
      assert.deepEqual(counts(await measures.summary(ref, range, bucket)), expected, `summary, buckets of ${bucket / 60_000} min`);
    }
  });
});
