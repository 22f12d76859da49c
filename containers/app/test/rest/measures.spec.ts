import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { StorageConnector } from '../../src/storage/storage-connector';
import { eventually } from '../support/amqp';
import { assertProblem } from '../support/api-client';
import { startTestApp, type TestApp } from '../support/test-app';
import { T0, associate, createAdmin, createExperiment, createScientist, storeMeasures, type Person } from '../support/world';

const MINUTE = 60_000;
const SENSORS = ['cryo/temp', 'cryo/pressure', 'hv:volt'];
/** 3 sensors × 120 minutes, one measure a minute, all three at the same instants (ties). */
const DATA = SENSORS.flatMap((sensor, s) =>
  Array.from({ length: 120 }, (_, i) => ({
    sensor,
    timestamp: T0 + i * MINUTE,
    value: s * 1000 + i + 0.25,
    unit: s === 2 ? 'V' : 'K',
    tags: i === 0 ? { run: '42', shift: 'night' } : null,
  })),
);

type Row = { sensor: string; timestamp: string; value: number; unit: string | null; tags: Record<string, string> | null };

describe('Measures, sensors, summaries and CSV', () => {
  let app: TestApp;
  let admin: Person;
  let scientist: Person;
  const base = '/experiments/EXP-M';
  const get = (path: string, token = scientist.token, headers?: Record<string, string>) =>
    app.api.get(`${base}${path}`, { token, headers });

  before(async () => {
    app = await startTestApp();
    admin = await createAdmin(app);
    scientist = await createScientist(app, admin, 'S1');
    await createExperiment(app, admin, 'EXP-M');
    await associate(app, admin, 'EXP-M', 'S1');
    await storeMeasures(app, 'EXP-M', DATA);
  });
  after(async () => app?.stop());

  it('When sensors are listed, then each shows unit, count, first and last timestamp and last value', async () => {
    const response = await get('/sensors');
    assert.equal(response.status, 200);
    assert.deepEqual(response.body.items, [
      { sensor: 'cryo/pressure', unit: 'K', count: 120, first_timestamp: new Date(T0).toISOString(), last_timestamp: new Date(T0 + 119 * MINUTE).toISOString(), last_value: 1119.25 },
      { sensor: 'cryo/temp', unit: 'K', count: 120, first_timestamp: new Date(T0).toISOString(), last_timestamp: new Date(T0 + 119 * MINUTE).toISOString(), last_value: 119.25 },
      { sensor: 'hv:volt', unit: 'V', count: 120, first_timestamp: new Date(T0).toISOString(), last_timestamp: new Date(T0 + 119 * MINUTE).toISOString(), last_value: 2119.25 },
    ]);
  });

  it('When measures are read without options, then the newest 1000 come first', async () => {
    const response = await get('/measures');
    assert.equal(response.status, 200);
    assert.equal(response.body.items.length, 360);
    assert.equal(response.body.next_cursor, null);
    const times = response.body.items.map((m: Row) => Date.parse(m.timestamp));
    assert.deepEqual(times, [...times].sort((a, b) => b - a));
    assert.equal(response.body.items[0].timestamp, new Date(T0 + 119 * MINUTE).toISOString());
    const tagged = response.body.items.filter((m: Row) => m.tags);
    assert.equal(tagged.length, 3);
    assert.deepEqual(tagged[0].tags, { run: '42', shift: 'night' });
    assert.equal(response.body.items[0].experiment_id, 'EXP-M');
  });

  for (const order of ['asc', 'desc'] as const) {
    it(`When paging with order=${order} and limit=7, then every measure comes exactly once, in order`, async () => {
      const seen: Row[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = `?order=${order}&limit=7${cursor ? `&cursor=${cursor}` : ''}`;
        const page = await get(`/measures${query}`);
        assert.equal(page.status, 200, page.text);
        seen.push(...page.body.items);
        cursor = page.body.next_cursor;
        pages++;
      } while (cursor && pages < 100);
      assert.equal(pages, Math.ceil(360 / 7));
      assert.equal(seen.length, 360);
      const keys = seen.map((m) => `${m.timestamp}|${m.sensor}`);
      assert.equal(new Set(keys).size, 360);
      const times = seen.map((m) => Date.parse(m.timestamp));
      const sorted = [...times].sort((a, b) => (order === 'asc' ? a - b : b - a));
      assert.deepEqual(times, sorted);
    });
  }

  it('When a range is given, then from is inclusive and to exclusive, in ISO or epoch ms', async () => {
    const from = new Date(T0 + 10 * MINUTE).toISOString();
    const to = T0 + 20 * MINUTE;
    const response = await get(`/measures?order=asc&from=${from}&to=${to}`);
    assert.equal(response.body.items.length, 30);
    assert.equal(response.body.items[0].timestamp, from);
    assert.equal(response.body.items.at(-1).timestamp, new Date(to - MINUTE).toISOString());
  });

  it('When sensors are filtered, then only those come; an unknown sensor gives nothing', async () => {
    const one = await get('/measures?sensor=hv:volt&limit=1000');
    assert.equal(one.body.items.length, 120);
    assert.ok(one.body.items.every((m: Row) => m.sensor === 'hv:volt' && m.unit === 'V'));
    const two = await get('/measures?sensor=hv:volt&sensor=cryo/temp');
    assert.deepEqual([...new Set(two.body.items.map((m: Row) => m.sensor))].sort(), ['cryo/temp', 'hv:volt']);
    assert.deepEqual((await get('/measures?sensor=none')).body.items, []);
  });

  it('When query parameters are invalid, then 400 names each of them', async () => {
    assertProblem(await get('/measures?from=yesterday&limit=10001&order=up'), 400, ['query.from', 'query.limit', 'query.order']);
    assertProblem(await get('/measures?sensor=bad%20name'), 400, ['query.sensor[0]']);
    const desc = await get('/measures?limit=1');
    assertProblem(await get(`/measures?order=asc&cursor=${desc.body.next_cursor}`), 400, ['query.cursor']);
  });

  it('When the same (experiment, sensor, timestamp) is written again, then the last value wins, no duplicate', async () => {
    await storeMeasures(app, 'EXP-M', [{ sensor: 'cryo/temp', timestamp: T0, value: -1, unit: 'mK', tags: { fixed: 'yes' } }]);
    const response = await get(`/measures?sensor=cryo/temp&from=${T0}&to=${T0 + 1}`);
    assert.deepEqual(response.body.items, [
      { experiment_id: 'EXP-M', sensor: 'cryo/temp', timestamp: new Date(T0).toISOString(), value: -1, unit: 'mK', tags: { fixed: 'yes' } },
    ]);
    await storeMeasures(app, 'EXP-M', [{ sensor: 'cryo/temp', timestamp: T0, value: 0.25, unit: 'K', tags: { run: '42', shift: 'night' } }]);
    assert.equal((await get('/sensors')).body.items.find((s: { sensor: string }) => s.sensor === 'cryo/temp').count, 120);
  });

  it('When CSV is asked with Accept: text/csv, then the whole range streams as CSV', async () => {
    const response = await fetch(`${app.baseUrl}${base}/measures?order=asc&limit=1&sensor=cryo/temp`, {
      headers: { authorization: `Bearer ${scientist.token}`, accept: 'text/csv' },
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type')!, /^text\/csv/);
    assert.equal(response.headers.get('content-disposition'), 'attachment; filename=EXP-M-measures.csv');
    const lines = (await response.text()).trim().split('\n');
    assert.equal(lines[0], 'timestamp,sensor,value,unit,tags');
    assert.equal(lines.length, 121);
    assert.equal(lines[1], `${new Date(T0).toISOString()},cryo/temp,0.25,K,"{""run"":""42"",""shift"":""night""}"`);
    assert.equal(lines[2], `${new Date(T0 + MINUTE).toISOString()},cryo/temp,1.25,K,`);
  });

  it('When units and tags hold commas, quotes, line breaks or edge spaces, then a CSV parser reads back exactly what was stored', async () => {
    await createExperiment(app, admin, 'EXP-CSV-TEXT');
    await associate(app, admin, 'EXP-CSV-TEXT', 'S1');
    const awkward: { unit: string | null; tags: Record<string, string> | null }[] = [
      { unit: 'm,s', tags: { note: 'a "quoted" word' } },
      { unit: '"in"', tags: { note: 'line one\nline two', 'k,1': 'x' } },
      { unit: ' K ', tags: { note: ' leading and trailing ' } },
      { unit: 'µΩ', tags: { note: 'CR\r\nLF', other: '' } },
      { unit: null, tags: null },
    ];
    await storeMeasures(
      app,
      'EXP-CSV-TEXT',
      awkward.map((m, i) => ({ sensor: 'probe/1', timestamp: T0 + i, value: -i - 0.5, ...m })),
    );
    const response = await fetch(`${app.baseUrl}/experiments/EXP-CSV-TEXT/measures?order=asc`, {
      headers: { authorization: `Bearer ${scientist.token}`, accept: 'text/csv' },
    });
    const records = parse<Record<string, string>>(await response.text(), { columns: true });
    assert.deepEqual(
      records.map((r) => ({ timestamp: r.timestamp, value: Number(r.value), unit: r.unit, tags: r.tags === '' ? null : JSON.parse(r.tags) })),
      awkward.map((m, i) => ({ timestamp: new Date(T0 + i).toISOString(), value: -i - 0.5, unit: m.unit ?? '', tags: m.tags })),
    );
  });

  it('When the range holds no measure, then the CSV is its header line alone', async () => {
    const response = await fetch(`${app.baseUrl}${base}/measures?from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z`, {
      headers: { authorization: `Bearer ${scientist.token}`, accept: 'text/csv' },
    });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'timestamp,sensor,value,unit,tags\n');
  });

  it('When a sensor first appears after its experiment was read, then pages and CSV give its name', async () => {
    await createExperiment(app, admin, 'EXP-NEW-SENSOR');
    await associate(app, admin, 'EXP-NEW-SENSOR', 'S1');
    const path = '/experiments/EXP-NEW-SENSOR/measures?order=asc';
    await storeMeasures(app, 'EXP-NEW-SENSOR', [{ sensor: 'first', timestamp: T0, value: 1, unit: null, tags: null }]);
    assert.deepEqual((await app.api.get(path, { token: scientist.token })).body.items.map((m: Row) => m.sensor), ['first']);
    await storeMeasures(app, 'EXP-NEW-SENSOR', [{ sensor: 'second', timestamp: T0 + 1, value: 2, unit: null, tags: null }]);
    assert.deepEqual((await app.api.get(path, { token: scientist.token })).body.items.map((m: Row) => m.sensor), ['first', 'second']);
    const csv = await fetch(`${app.baseUrl}${path}`, { headers: { authorization: `Bearer ${scientist.token}`, accept: 'text/csv' } });
    assert.deepEqual((await csv.text()).trim().split('\n').slice(1).map((line) => line.split(',')[1]), ['first', 'second']);
    // The export's read-only transaction ends with it: no connection of the pool is left inside one.
    const openTransactions = async () => {
      const [rows] = (await app.container.resolve(StorageConnector).pool.query(
        `SELECT COUNT(*) AS n FROM information_schema.innodb_trx t
         JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id WHERE p.db = DATABASE()`,
      )) as unknown as [{ n: number }[]];
      return Number(rows[0].n);
    };
    await eventually(async () => (await openTransactions()) === 0, 5_000, 'the export transaction to end');
  });

  it('When CSV is asked by someone not associated, then 404 problem, no CSV', async () => {
    const outsider = await createScientist(app, admin, 'S2');
    const response = await app.api.get(`${base}/measures`, { token: outsider.token, headers: { accept: 'text/csv' } });
    assertProblem(response, 404);
  });

  it('When a summary is asked per 30 minutes, then count/min/max/avg/first/last are exact per sensor', async () => {
    const response = await get(`/measures/summary?bucket=30m&sensor=cryo/temp&sensor=hv:volt`);
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.bucket_ms, 30 * MINUTE);
    assert.deepEqual(response.body.sensors.map((s: { sensor: string }) => s.sensor), ['cryo/temp', 'hv:volt']);
    for (const series of response.body.sensors) {
      const offset = series.sensor === 'hv:volt' ? 2000 : 0;
      assert.equal(series.buckets.length, 4);
      series.buckets.forEach((b: Record<string, number | string>, k: number) => {
        const values = Array.from({ length: 30 }, (_, i) => offset + k * 30 + i + 0.25);
        assert.deepEqual(b, {
          start: new Date(T0 + k * 30 * MINUTE).toISOString(),
          count: 30,
          min: values[0],
          max: values[29],
          avg: values.reduce((a, v) => a + v, 0) / 30,
          first: values[0],
          last: values[29],
        });
      });
    }
  });

  it('When a summary range is given, then buckets are aligned on the epoch and clipped to the range', async () => {
    const response = await get(`/measures/summary?bucket=1h&sensor=cryo/temp&from=${T0 + 90 * MINUTE}&to=${T0 + 100 * MINUTE}`);
    assert.deepEqual(response.body.sensors[0].buckets, [
      { start: new Date(T0 + 60 * MINUTE).toISOString(), count: 10, min: 90.25, max: 99.25, avg: 94.75, first: 90.25, last: 99.25 },
    ]);
  });

  it('When the bucket is invalid or too small for the range, then 400 names it', async () => {
    assertProblem(await get('/measures/summary'), 400, ['query.bucket']);
    assertProblem(await get('/measures/summary?bucket=5x'), 400, ['query.bucket']);
    assertProblem(await get(`/measures/summary?bucket=1s&from=0&to=${T0}`), 400, ['query.bucket']);
  });
});
