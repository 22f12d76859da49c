import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AmqpClient, eventually } from '../support/amqp';
import { ConsoleLines } from '../support/log-capture';
import { startTestApp, storedMeasures, type TestApp } from '../support/test-app';
import { createAdmin, createExperiment } from '../support/world';

const T = Date.parse('2026-11-23T10:00:00.000Z');
const measure = (i: number) => ({ experiment_id: 'REF', sensor: 'refusals', value: i, timestamp: T + i });

/**
 * The broker refuses an operation and closes the channel it came on (not the
 * connection): the app says why and opens that channel again, without
 * dropping the connection that consumes.
 */
describe('A channel the broker closes', () => {
  let app: TestApp;
  let amqp: AmqpClient;
  const console = new ConsoleLines();
  const logged = (pattern: RegExp) => console.lines.filter((line) => pattern.test(line));

  before(async () => {
    app = await startTestApp({ LOG_LEVEL: 'info' }, undefined, { console });
    const admin = await createAdmin(app);
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
});

