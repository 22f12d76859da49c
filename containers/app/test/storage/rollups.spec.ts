import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ExperimentRepository } from '../../src/storage/experiment.repository';
import { MeasureRepository, splitRange } from '../../src/storage/measure.repository';
import type { SummaryBucket } from '../../src/model/measure';
import { startTestApp, type TestApp } from '../support/test-app';
import { createAdmin, createExperiment, storeMeasures, type Person } from '../support/world';

/**
 * Summaries of whole-hour buckets come from hourly rollups, of whole-day
 * buckets from daily rollups made of the hours, kept up to date through stale
 * marks; these tests compare them with the same summary computed from the raw
 * measures, after inserts and overwrites, also while both happen at once.
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 0, 5, 0, 0, 0);
const SENSORS = ['a', 'b', 'c', 'd'];

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

function assertSame(actual: SummaryBucket[], expected: SummaryBucket[], what: string) {
  assert.equal(actual.length, expected.length, `${what}: bucket count`);
  actual.forEach((a, i) => {
    const e = expected[i];
    assert.deepEqual({ ...a, avg: 0 }, { ...e, avg: 0 }, `${what}: bucket ${i}`);
    assert.ok(Math.abs(a.avg - e.avg) <= 1e-9 * Math.max(1, Math.abs(e.avg)), `${what}: avg ${a.avg} vs ${e.avg}`);
  });
}

describe("Hourly and daily rollups of summaries", () => {
  let app: TestApp;
  let admin: Person;
  let ref: number;
  let measures: MeasureRepository;
  const next = random(42);
  const written = new Map<string, { sensor: string; timestamp: number }>();

  /** Stores `count` measures: new ones at random instants of 5 days, and overwrites of earlier ones. */
  async function write(count: number, overwriteShare: number) {
    const batch = Array.from({ length: count }, () => {
      const earlier = [...written.values()];
      const key =
        earlier.length > 0 && next() < overwriteShare
          ? earlier[Math.floor(next() * earlier.length)]
          : { sensor: SENSORS[Math.floor(next() * SENSORS.length)], timestamp: START + Math.floor(next() * 5 * DAY) };
      written.set(`${key.sensor}@${key.timestamp}`, key);
      return { ...key, value: Math.round((next() * 200 - 100) * 1000) / 1000, unit: null, tags: null };
    });
    await storeMeasures(app, 'EXP-R', batch);
  }

  async function compare(round: string) {
    const ranges = [
      { from: START, to: START + 5 * DAY },
      { from: START - 2 * DAY, to: START + 4 * DAY + 7 * HOUR + 1 },
      { from: START + 17 * 60_000 + 123, to: START + 2 * 24 * HOUR + 41 * 60_000 },
      { from: START + 5 * HOUR + 1, to: START + 30 * HOUR - 1 },
      { from: START + 10 * HOUR + 600_000, to: START + 10 * HOUR + 1_800_000 },
    ];
    for (const range of ranges) {
      for (const bucket of [HOUR, 2 * HOUR, 6 * HOUR, DAY, 2 * DAY]) {
        for (const sensors of [undefined, ['b', 'd']]) {
          const what = `${round}: ${range.from - START}..${range.to - START}, bucket ${bucket / HOUR}h, sensors ${sensors?.join(',') ?? 'all'}`;
          const refs = await measures.sensorRefs(ref, sensors);
          const expected = await measures.rawSummary(ref, { ...range, sensors }, bucket, refs);
          assertSame(await measures.summary(ref, { ...range, sensors }, bucket), expected, what);
        }
      }
    }
  }

  before(async () => {
    app = await startTestApp();
    admin = await createAdmin(app);
    await createExperiment(app, admin, 'EXP-R');
    ref = (await app.container.resolve(ExperimentRepository).findById('EXP-R'))!.ref;
    measures = app.container.resolve(MeasureRepository);
  });
  after(async () => app?.stop());

  it('When measures are first stored, then whole-hour and whole-day summaries equal the raw aggregation', async () => {
    await write(3_000, 0);
    await compare('inserts');
  });

  it('When measures are overwritten and added in hours already summarised, then the summaries follow exactly', async () => {
    for (let round = 0; round < 3; round++) {
      await write(1_500, 0.6);
      await compare(`round ${round}`);
    }
  });

  it('When every hour and day has been summarised, then none stays stale; a new write marks its hour, and refreshing the hour marks its day', async () => {
    const stale = async (table: string) =>
      Number(
        ((await measures['storage'].pool.query(`SELECT COUNT(*) AS n FROM ${table}`)) as [{ n: number }[], unknown])[0][0].n,
      );
    assert.deepEqual([await stale('measure_hours_stale'), await stale('measure_days_stale')], [0, 0]);
    await storeMeasures(app, 'EXP-R', [{ sensor: 'a', timestamp: START + DAY + 7 * HOUR + 5, value: 1e6, unit: null, tags: null }]);
    assert.deepEqual([await stale('measure_hours_stale'), await stale('measure_days_stale')], [1, 0]);
    const [hour] = await measures.summary(ref, { from: START + DAY + 7 * HOUR, to: START + DAY + 8 * HOUR, sensors: ['a'] }, HOUR);
    assert.equal(hour.max, 1e6);
    assert.deepEqual([await stale('measure_hours_stale'), await stale('measure_days_stale')], [0, 1]);
    const [day] = await measures.summary(ref, { from: START + DAY, to: START + 2 * DAY, sensors: ['a'] }, DAY);
    assert.equal(day.max, 1e6);
    assert.deepEqual([await stale('measure_hours_stale'), await stale('measure_days_stale')], [0, 0]);
  });

  it('When summaries run while measures are written and overwritten, then once writing stops every summary is exact again', async () => {
    const writing = (async () => {
      for (let round = 0; round < 6; round++) await write(400, 0.5);
    })();
    const reading = Array.from({ length: 3 }, async (_, reader) => {
      for (let i = 0; i < 6; i++) {
        await measures.summary(ref, { from: START + reader * HOUR, to: START + 5 * DAY }, [HOUR, DAY, 2 * DAY][(reader + i) % 3]);
      }
    });
    await Promise.all([writing, ...reading]);
    await compare('after concurrent writes and summaries');
  });

  it('When a range is split, then whole days, whole hours and the rest each go to their source, in order and without gaps', () => {
    const days = { table: 'measure_days', staleTable: 'measure_days_stale', column: 'day', unitMs: DAY };
    const hours = { table: 'measure_hours', staleTable: 'measure_hours_stale', column: 'hour', unitMs: HOUR };
    const from = START + 9 * HOUR + 17 * 60_000;
    const to = START + 3 * DAY + 5 * HOUR + 30 * 60_000;
    assert.deepEqual(
      splitRange(from, to, [days, hours]).map((s) => [s.level?.column ?? 'raw', s.from - START, s.to - START]),
      [
        ['raw', from - START, 10 * HOUR],
        ['hour', 10 * HOUR, DAY],
        ['day', DAY, 3 * DAY],
        ['hour', 3 * DAY, 3 * DAY + 5 * HOUR],
        ['raw', 3 * DAY + 5 * HOUR, to - START],
      ],
    );
    assert.deepEqual(splitRange(START, START + HOUR - 1, [days, hours]).map((s) => s.level), [null]);
    assert.deepEqual(splitRange(START - DAY, START + DAY, [days]).map((s) => [s.level?.column, s.from - START, s.to - START]), [['day', -DAY, DAY]]);
  });
});
