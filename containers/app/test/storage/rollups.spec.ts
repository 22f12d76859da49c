import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ExperimentRepository } from '../../src/storage/experiment.repository';
import { MeasureRepository, finish } from '../../src/storage/measure.repository';
import type { SummaryBucket } from '../../src/model/measure';
import { startTestApp, type TestApp } from '../support/test-app';
import { createAdmin, createExperiment, storeMeasures, type Person } from '../support/world';

/**
 * Summaries of whole-hour buckets come from hourly rollups kept up to date
 * through stale marks; these tests compare them with the same summary
 * computed from the raw measures, after inserts and overwrites.
 */
const HOUR = 3_600_000;
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

describe('Hourly rollups of summaries', () => {
  let app: TestApp;
  let admin: Person;
  let ref: number;
  let measures: MeasureRepository;
  const next = random(42);
  const written = new Map<string, { sensor: string; timestamp: number }>();

  /** Stores `count` measures: new ones at random instants of 3 days, and overwrites of earlier ones. */
  async function write(count: number, overwriteShare: number) {
    const batch = Array.from({ length: count }, () => {
      const earlier = [...written.values()];
      const key =
        earlier.length > 0 && next() < overwriteShare
          ? earlier[Math.floor(next() * earlier.length)]
          : { sensor: SENSORS[Math.floor(next() * SENSORS.length)], timestamp: START + Math.floor(next() * 3 * 24 * HOUR) };
      written.set(`${key.sensor}@${key.timestamp}`, key);
      return { ...key, value: Math.round((next() * 200 - 100) * 1000) / 1000, unit: null, tags: null };
    });
    await storeMeasures(app, 'EXP-R', batch);
  }

  async function compare(round: string) {
    const ranges = [
      { from: START, to: START + 3 * 24 * HOUR },
      { from: START + 17 * 60_000 + 123, to: START + 2 * 24 * HOUR + 41 * 60_000 },
      { from: START + 5 * HOUR + 1, to: START + 30 * HOUR - 1 },
      { from: START + 10 * HOUR + 600_000, to: START + 10 * HOUR + 1_800_000 },
    ];
    for (const range of ranges) {
      for (const bucket of [HOUR, 2 * HOUR, 6 * HOUR, 24 * HOUR]) {
        for (const sensors of [undefined, ['b', 'd']]) {
          const what = `${round}: ${range.from - START}..${range.to - START}, bucket ${bucket / HOUR}h, sensors ${sensors?.join(',') ?? 'all'}`;
          const refs = await measures.sensorRefs(ref, sensors);
          const expected = finish(await measures.rawSummary(ref, { ...range, sensors }, bucket, refs));
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

  it('When measures are first stored, then whole-hour summaries equal the raw aggregation', async () => {
    await write(3_000, 0);
    await compare('inserts');
  });

  it('When measures are overwritten and added in hours already summarised, then the summaries follow exactly', async () => {
    for (let round = 0; round < 3; round++) {
      await write(1_500, 0.6);
      await compare(`round ${round}`);
    }
  });

  it('When every hour has been summarised, then no hour stays stale, and a new write marks only its own hour', async () => {
    const stale = async () =>
      ((await app.container.resolve(MeasureRepository)['storage'].pool.query('SELECT COUNT(*) AS n FROM measure_hours_stale')) as [
        { n: number }[],
        unknown,
      ])[0][0].n;
    assert.equal(Number(await stale()), 0);
    await storeMeasures(app, 'EXP-R', [{ sensor: 'a', timestamp: START + 7 * HOUR + 5, value: 1e6, unit: null, tags: null }]);
    assert.equal(Number(await stale()), 1);
    const [hour] = await measures.summary(ref, { from: START + 7 * HOUR, to: START + 8 * HOUR, sensors: ['a'] }, HOUR);
    assert.equal(hour.max, 1e6);
    assert.equal(Number(await stale()), 0);
  });
});
