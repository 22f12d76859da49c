import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import amqplib, { type Channel, type ChannelModel } from 'amqplib';
import { InvalidMeasureError, MeasurePublisher, UnroutableError, parseMeasureMessage, type MeasureInput } from '../src/index';

/** Against the real RabbitMQ (RABBIT_URL, default the local broker as guest). */
const URL = process.env.RABBIT_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MANAGEMENT_URL = process.env.RABBIT_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';
const MANAGEMENT = new globalThis.URL(MANAGEMENT_URL).origin;

const measure = (i: number): MeasureInput => ({
  experiment_id: 'EXP-PUB',
  sensor: `s${i % 7}`,
  value: i,
  timestamp: 1_700_000_000_000 + i,
});

describe('MeasurePublisher against RabbitMQ', () => {
  const suffix = randomBytes(4).toString('hex');
  const exchange = `mymonit.publisher-test.${suffix}`;
  const queue = `measures.publisher-test.${suffix}`;
  let connection: ChannelModel;
  let channel: Channel;

  /** Everything in the queue: messages and the measures they carry, each message validated with the shared schema. */
  async function drain(): Promise<{ messages: number; values: number[] }> {
    const values: number[] = [];
    let messages = 0;
    for (;;) {
      const message = await channel.get(queue, { noAck: true });
      if (!message) return { messages, values };
      messages++;
      const parsed = parseMeasureMessage(JSON.parse(message.content.toString('utf8')));
      assert.ok(parsed.ok, 'every message is valid for the app');
      values.push(...parsed.measures.map((m) => m.value));
    }
  }

  before(async () => {
    connection = await amqplib.connect(URL);
    channel = await connection.createChannel();
    await channel.assertExchange(exchange, 'direct', { durable: true });
    await channel.assertQueue(queue, { durable: true });
    await channel.bindQueue(queue, exchange, 'measures');
  });
  after(async () => {
    await channel.deleteQueue(queue);
    await channel.deleteExchange(exchange);
    await connection.close();
  });

  it('When measures are published in calls of any size, then they arrive as array messages of at most batchSize, all of them', async () => {
    const publisher = await MeasurePublisher.connect({ url: URL, exchange, batchSize: 500 });
    const all = Array.from({ length: 2_345 }, (_, i) => measure(i));
    await Promise.all([publisher.publish(all.slice(0, 1)), publisher.publish(all.slice(1, 1_700)), publisher.publish(all.slice(1_700))]);
    await publisher.close();
    const { messages, values } = await drain();
    assert.deepEqual(values.sort((a, b) => a - b), all.map((m) => m.value));
    assert.ok(messages >= 5 && messages <= 7, `${messages} messages`);
  });

  it('When two calls publish at once, then their measures never share a message (the app takes or refuses a message whole)', async () => {
    const publisher = await MeasurePublisher.connect({ url: URL, exchange, batchSize: 500 });
    await Promise.all([publisher.publish([measure(1), measure(2), measure(3)]), publisher.publish([measure(10), measure(11)])]);
    await publisher.close();
    const bodies: number[][] = [];
    for (let message; (message = await channel.get(queue, { noAck: true })); ) {
      bodies.push((JSON.parse(message.content.toString('utf8')) as { value: number }[]).map((m) => m.value));
    }
    assert.deepEqual(bodies.sort((a, b) => a[0] - b[0]), [[1, 2, 3], [10, 11]]);
  });

  it('When one measure of a call is invalid, then nothing of the call is published and the error names it', async () => {
    const publisher = await MeasurePublisher.connect({ url: URL, exchange });
    const bad = [measure(1), { ...measure(2), value: Number.NaN }, { ...measure(3), sensor: '' }];
    await assert.rejects(publisher.publish(bad), (error: InvalidMeasureError) => {
      assert.ok(error instanceof InvalidMeasureError);
      assert.deepEqual(error.errors.map((e) => e.field), ['[1].value', '[2].sensor']);
      return true;
    });
    await publisher.close();
    assert.equal((await drain()).messages, 0);
  });

  it('When no queue is bound to the exchange, then publish fails instead of losing the measures', async () => {
    const publisher = await MeasurePublisher.connect({ url: URL, exchange: `${exchange}.unbound` });
    await assert.rejects(publisher.publish([measure(1)]), UnroutableError);
    await publisher.close();
    await channel.deleteExchange(`${exchange}.unbound`);
  });

  it('When many batches are published at once, then no more than maxInFlight are unconfirmed at any time', async () => {
    const publisher = await MeasurePublisher.connect({ url: URL, exchange, batchSize: 10, maxInFlight: 3 });
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, publisher.unconfirmed)), 0);
    const calls = Array.from({ length: 50 }, (_, c) => publisher.publish(Array.from({ length: 10 }, (_, i) => measure(c * 10 + i))));
    peak = Math.max(peak, publisher.unconfirmed);
    await Promise.all(calls);
    clearInterval(sampler);
    await publisher.close();
    assert.ok(peak <= 3, `peak ${peak} unconfirmed`);
    assert.equal((await drain()).values.length, 500);
  });

  it('When the broker drops the connection mid-stream, then the publisher reconnects and every measure arrives', async () => {
    const name = `publisher-test-${suffix}`;
    const states: boolean[] = [];
    const publisher = await MeasurePublisher.connect({
      url: URL,
      exchange,
      batchSize: 100,
      connectionName: name,
      onConnectionChange: (connected) => states.push(connected),
    });
    // The management API lists a connection after its next statistics round (up to 5 s).
    let ours: { name: string } | undefined;
    for (let i = 0; i < 100 && !ours; i++) {
      const connections = (await (await fetch(`${MANAGEMENT}/api/connections`, { headers: auth() })).json()) as {
        name: string;
        client_properties: { connection_name?: string };
      }[];
      ours = connections.find((c) => c.client_properties.connection_name === name);
      if (!ours) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(ours, 'the publisher connection is listed by the management API');
    const total = 40_000;
    let published = 0;
    const publishing = (async () => {
      for (let i = 0; i < total; i += 500) {
        await publisher.publish(Array.from({ length: 500 }, (_, k) => measure(i + k)));
        published = i + 500;
      }
    })();
    while (published < 5_000) await new Promise((resolve) => setTimeout(resolve, 5));
    const closed = await fetch(`${MANAGEMENT}/api/connections/${encodeURIComponent(ours.name)}`, { method: 'DELETE', headers: auth() });
    assert.ok(closed.ok, `closing the connection: HTTP ${closed.status}`);
    assert.ok(published < total, 'the connection was closed mid-stream');
    await publishing;
    await publisher.close();
    assert.ok(states.includes(false), 'the drop was seen');
    const distinct = new Set((await drain()).values);
    assert.equal(distinct.size, total, 'every measure arrived (resends are harmless duplicates)');
  });
});

function auth(): Record<string, string> {
  const url = new globalThis.URL(MANAGEMENT_URL);
  return { authorization: `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}` };
}
