import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AmqpClient, eventually } from '../support/amqp';
import { ConsoleLines } from '../support/log-capture';
import { readEvents } from '../support/sse';
import { startTestApp, storedMeasures, type TestApp } from '../support/test-app';
import { createAdmin, createExperiment, type Person } from '../support/world';

const T = Date.parse('2026-11-23T10:00:00.000Z');
const measure = (i: number, sensor = 'refusals') => ({ experiment_id: 'REF', sensor, value: i, timestamp: T + i });

/**
 * The broker refuses an operation and closes the channel it came on (not the
 * connection): the app says why and opens that channel again, without
 * dropping the connection that consumes.
 */
describe('A channel the broker closes', () => {
  let app: TestApp;
  let amqp: AmqpClient;
  let admin: Person;
  const console = new ConsoleLines();
  const logged = (pattern: RegExp) => console.lines.filter((line) => pattern.test(line));

  before(async () => {
    app = await startTestApp({ LOG_LEVEL: 'info' }, undefined, { console });
    admin = await createAdmin(app);
    await createExperiment(app, admin, 'REF');
    amqp = await AmqpClient.connect(app.config);
    await eventually(async () => (await app.api.get('/ready')).status === 200, 10_000, 'ready');
  });
  after(async () => {
    await amqp?.close();
    await app?.stop();
  });

  it('When the dead-letter exchange was deleted by hand, then the publishing channel is reopened, the exchange declared again, the refused message dead-lettered, and consumption goes on', { timeout: 60_000 }, async () => {
    await amqp.channel.deleteExchange(amqp.topology.deadLetterExchange);
    const poison = '{"experiment_id": "REF", "sensor": "refusals", "value": "hot", "timestamp": 1}';
    await amqp.publish([...Array.from({ length: 20 }, (_, i) => measure(i)), poison, ...Array.from({ length: 20 }, (_, i) => measure(20 + i))]);
    await eventually(async () => (await amqp.messageCount(amqp.topology.deadLetterQueue)) === 1, 30_000, 'the refused message dead-lettered');
    await eventually(async () => (await storedMeasures(app.config)) === 40, 10_000, 'the valid measures stored');
    const [dead] = await amqp.drainDeadLetters();
    assert.equal(dead.content.toString(), poison);
    assert.match(String(dead.properties.headers?.['x-mymonit-error']), /^value: /);

    const closed = logged(/the broker closed a channel/);
    assert.ok(closed.length >= 1, 'the closed channel is logged');
    assert.match(closed[0], /"connection":"publish","channel":"publisher","reason":"Channel closed by server: 404 .*no exchange/);
    assert.deepEqual(logged(/disconnected from RabbitMQ.*"connection":"consume"/), [], 'the consuming connection stayed up');
    await eventually(async () => (await app.api.get('/ready')).status === 200, 10_000, 'ready again');
  });

  it('When the live-stream exchange was deleted by hand, then the live channel the broker closes is opened again alone, the exchange declared again, and a stream receives what is stored', { timeout: 60_000 }, async () => {
    const storedBefore = await storedMeasures(app.config);
    await amqp.channel.deleteExchange(amqp.topology.storedExchange);
    const abort = new AbortController();
    const response = await fetch(`${app.baseUrl}/experiments/REF/measures/stream?sensor=live`, {
      headers: { authorization: `Bearer ${admin.token}` },
      signal: abort.signal,
    });
    assert.equal(response.status, 200);
    const events = readEvents(response.body!);
    assert.equal((await events.next()).value?.event, 'ready');
    const received: number[] = [];
    const collecting = (async () => {
      for await (const event of events) if (event.event === 'measures') received.push(...(JSON.parse(event.data) as { value: number }[]).map((m) => m.value));
    })();
    try {
      // Binding the stream's experiment to the missing exchange: the broker closes the live channel (404).
      await eventually(() => logged(/the broker closed a channel/).some((line) => line.includes('"channel":"live"')), 10_000, 'the live channel closed');
      // Opened again, its setup declares the exchange and binds what is watched: measures flow again.
      let sent = 0;
      await eventually(
        async () => {
          await amqp.publish([measure(1000 + sent++, 'live')]);
          await new Promise((resolve) => setTimeout(resolve, 200));
          return received.length > 0;
        },
        20_000,
        'live measures after the channel was opened again',
      );
      await eventually(async () => (await storedMeasures(app.config)) === storedBefore + sent, 10_000, 'every measure stored');
    } finally {
      abort.abort();
      await collecting.catch(() => undefined);
    }
    assert.ok(received.every((value) => value >= 1000), 'only the live sensor');
    const closed = logged(/the broker closed a channel/).find((line) => line.includes('"channel":"live"'))!;
    assert.match(closed, /"connection":"consume","channel":"live","reason":"Channel closed by server: 404 .*no exchange/);
    // (The publishing connection may be reconnected too: a live event or "watching" notice published to the
    // missing exchange closes its one channel.)
    assert.deepEqual(logged(/disconnected from RabbitMQ.*"connection":"consume"/), [], 'the consuming connection stayed up, and with it the consumer');
    assert.equal((await app.api.get('/ready')).status, 200);
  });
});
