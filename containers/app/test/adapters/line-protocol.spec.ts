import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InfluxDB, Point } from '@influxdata/influxdb-client';
import { startServer, type RunningServer } from '../../../../adapters/line-protocol/src/server';
import { eventually } from '../support/amqp';
import { startTestApp, type TestApp } from '../support/test-app';
import { createAdmin, createExperiment, type Person } from '../support/world';

/**
 * End to end: InfluxDB's own client library writes line protocol to the
 * adapter (in-process), which publishes to this app's exchange; the app
 * stores the measures and serves them over REST.
 */
const TOKEN = 'lp-e2e-token';
const EXPERIMENT = 'EXP-LP';

interface StoredMeasure {
  experiment_id: string;
  sensor: string;
  timestamp: string;
  value: number;
  unit: string | null;
  tags: Record<string, string> | null;
}

describe('line protocol adapter end to end (InfluxDB client → adapter → RabbitMQ → app → REST)', () => {
  let app: TestApp;
  let admin: Person;
  let adapter: RunningServer;
  let adapterUrl: string;

  const stored = async (): Promise<StoredMeasure[]> => {
    const response = await app.api.get(`/experiments/${EXPERIMENT}/measures?limit=10000&order=asc`, { token: admin.token });
    assert.equal(response.status, 200, response.text);
    return response.body.items as StoredMeasure[];
  };

  before(async () => {
    app = await startTestApp();
    admin = await createAdmin(app);
    await createExperiment(app, admin, EXPERIMENT);
    await eventually(async () => (await app.api.get('/ready')).status === 200, 10_000, 'ready');
    adapter = await startServer({
      amqpUrl: app.config.rabbit.url,
      exchange: app.config.rabbit.exchange,
      routingKey: app.config.rabbit.routingKey,
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      log: () => undefined,
    });
    adapterUrl = `http://127.0.0.1:${adapter.port}`;
  });
  after(async () => {
    await adapter?.close();
    await app?.stop();
  });

  it('When the InfluxDB client writes points (experiment by tag, then by bucket), then every numeric field is stored as a measure', async () => {
    const influx = new InfluxDB({ url: adapterUrl, token: TOKEN });

    // The bucket names no experiment: the tag does.
    const tagged = influx.getWriteApi('mymonit', 'telegraf', 'ns');
    tagged.writePoints([
      new Point('magnet')
        .tag('experiment', EXPERIMENT)
        .tag('run', '7')
        .floatField('temp', 4.21)
        .intField('coil', 120)
        .booleanField('quench', false)
        .stringField('note', 'nominal')
        .timestamp('1795687200123456789'),
      new Point('magnet')
        .tag('experiment', EXPERIMENT)
        .tag('run', '7')
        .floatField('temp', 4.25)
        .intField('coil', 121)
        .booleanField('quench', true)
        .timestamp('1795687201000999999'),
      // Within the same millisecond as the previous point: MyMONIT keeps the last.
      new Point('magnet').tag('experiment', EXPERIMENT).tag('run', '7').floatField('temp', 4.26).timestamp('1795687201000000001'),
    ]);
    await tagged.close();

    // No experiment tag: the bucket is the experiment. Big enough for the client to gzip it.
    const bucketed = influx.getWriteApi('mymonit', EXPERIMENT, 'ns');
    for (let i = 0; i < 60; i++) {
      bucketed.writePoint(
        new Point('coolant')
          .tag('loop', 'A')
          .uintField('flow', 1000 + i)
          .timestamp(String(1795687300000000000n + BigInt(i) * 1_000_000n + 500n)),
      );
    }
    await bucketed.close();

    await eventually(async () => (await stored()).length === 66, 20_000, '66 measures stored');
    const items = await stored();
    const find = (sensor: string, timestamp: string) => items.find((m) => m.sensor === sensor && m.timestamp === timestamp);

    assert.deepEqual(find('magnet.temp', '2026-11-26T10:00:00.123Z'), {
      experiment_id: EXPERIMENT,
      sensor: 'magnet.temp',
      timestamp: '2026-11-26T10:00:00.123Z',
      value: 4.21,
      unit: null,
      tags: { run: '7' },
    });
    assert.equal(find('magnet.coil', '2026-11-26T10:00:00.123Z')?.value, 120);
    assert.equal(find('magnet.quench', '2026-11-26T10:00:00.123Z')?.value, 0);
    assert.equal(find('magnet.quench', '2026-11-26T10:00:01.000Z')?.value, 1);
    assert.equal(find('magnet.temp', '2026-11-26T10:00:01.000Z')?.value, 4.26);
    assert.ok(!items.some((m) => m.sensor === 'magnet.note'), 'string fields are not stored');

    const flows = items.filter((m) => m.sensor === 'coolant.flow');
    assert.equal(flows.length, 60);
    assert.deepEqual(flows[59], {
      experiment_id: EXPERIMENT,
      sensor: 'coolant.flow',
      timestamp: new Date(1795687300059).toISOString(),
      value: 1059,
      unit: null,
      tags: { loop: 'A' },
    });
    assert.deepEqual(
      [...new Set(items.map((m) => m.sensor))].sort(),
      ['coolant.flow', 'magnet.coil', 'magnet.quench', 'magnet.temp'],
    );
  });

  it('When a raw write has a bad line, then it is a 400 naming the line and nothing of it is stored', async () => {
    const write = (body: string) =>
      fetch(`${adapterUrl}/api/v2/write?org=mymonit&bucket=${EXPERIMENT}&precision=ns`, {
        method: 'POST',
        headers: { authorization: `Token ${TOKEN}`, 'content-type': 'text/plain; charset=utf-8' },
        body,
      });
    const bad = await write('probe ok=1 1795687400000000000\nprobe bad=1 yesterday\n');
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), {
      code: 'invalid',
      message: 'line 2: invalid timestamp: yesterday',
      error: 'line 2: invalid timestamp: yesterday',
    });

    // A later good write arrives through the same queue: once it is stored, the bad one would have been too.
    assert.equal((await write('sentinel v=1 1795687500000000000')).status, 204);
    await eventually(async () => (await stored()).some((m) => m.sensor === 'sentinel.v'), 20_000, 'the sentinel stored');
    assert.ok(!(await stored()).some((m) => m.sensor.startsWith('probe.')), 'nothing of the refused request is stored');
  });
});
