import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Channel, ConsumeMessage } from 'amqplib';
import { loadConfig } from '../config';
import { Logging } from '../logging/logging';
import { Metrics } from '../metrics/metrics';
import type { Measure } from '../model/measure';
import type { LiveMeasures } from './live-measures';
import type { RabbitConnector } from './rabbit-connector';
import type { DecodedMessage, Outcome, RabbitMessageProcessor } from './rabbit-message-processor';
import { RabbitListener } from './rabbit-listener';

const config = loadConfig({ FIREBASE_PROJECT_ID: 'demo-test', LOGSTASH_ENABLED: 'false', LOG_LEVEL: 'error' });
const metrics = new Metrics();
const logging = new Logging(config, metrics, 'process');

const measure = (sensor: string, timestamp = 1): Measure => ({ experimentId: 'E', sensor, timestamp, value: 1, unit: null, tags: null });

/** A processor whose writes the test finishes by hand, one batch at a time, in any order. */
class ScriptedProcessor {
  readonly started: string[] = [];
  private readonly finish = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();

  process(messages: DecodedMessage[]): Promise<Outcome[]> {
    const name = messages.map((m) => ('measures' in m ? m.measures.map((x) => x.sensor).join('+') : 'refused')).join(',');
    this.started.push(name);
    return new Promise((resolve, reject) =>
      this.finish.set(name, {
        resolve: () => resolve(messages.map((m) => ('measures' in m ? { stored: true, measures: m.measures } : { stored: false, ...m }))),
        reject,
      }),
    );
  }

  complete(name: string): void {
    const finish = this.finish.get(name);
    assert.ok(finish, `${name} has started`);
    finish.resolve();
  }

  /** The batch's write throws (the processor settles every failure itself; this is the listener's own guard). */
  fail(name: string): void {
    const finish = this.finish.get(name);
    assert.ok(finish, `${name} has started`);
    finish.reject(new Error(`writing ${name} failed`));
  }
}

/** A connector whose dead-letter publishes the test confirms or fails by hand, in order. */
class ScriptedConnector {
  readonly published: { body: string; error: unknown; confirm: () => void; fail: () => void }[] = [];
  /** RabbitMQ blocks publishing (a resource alarm). */
  blocked = false;

  isPublishingBlocked(): boolean {
    return this.blocked;
  }

  isConnected(): boolean {
    return true;
  }

  publishReliably(_exchange: string, _routingKey: string, body: Buffer, options: { headers: Record<string, unknown> }): Promise<void> {
    return new Promise((resolve, reject) =>
      this.published.push({
        body: body.toString(),
        error: options.headers['x-mymonit-error'],
        confirm: resolve,
        fail: () => reject(new Error('the broker refused the message')),
      }),
    );
  }
}

/** The listener on one open channel (generation 1) whose acknowledgements are recorded. */
function listenerWith(processor: ScriptedProcessor, connector = new ScriptedConnector()) {
  const acked: number[] = [];
  /** Every acknowledgement in order: `ack 3` (`+` when multiple), `requeue 2`. */
  const settled: string[] = [];
  const channel = {
    ack: (message: ConsumeMessage, multiple = false) => {
      acked.push(message.fields.deliveryTag);
      settled.push(`ack ${message.fields.deliveryTag}${multiple ? '+' : ''}`);
    },
    nack: (message: ConsumeMessage, multiple = false, requeue = true) => {
      assert.equal(multiple, false);
      settled.push(`${requeue ? 'requeue' : 'drop'} ${message.fields.deliveryTag}`);
    },
  } as unknown as Channel;
  const listener = new RabbitListener(
    config,
    connector as unknown as RabbitConnector,
    processor as unknown as RabbitMessageProcessor,
    { announce: () => undefined } as unknown as LiveMeasures,
    metrics,
    logging,
  );
  const internals = listener as unknown as { openGenerations: Set<number>; receive(delivery: unknown): void; budget: { unackedBytes: number } };
  internals.openGenerations.add(1);
  let tag = 0;
  /** Receives one message per measure (or refused message), then cuts them into a batch. */
  const batch = (...measures: (Measure | 'refused')[]) => {
    for (const m of measures) {
      const body = m === 'refused' ? '{"sensor":' : '{}';
      const message = { content: Buffer.from(body), fields: { deliveryTag: ++tag }, properties: { headers: {} } } as unknown as ConsumeMessage;
      const decoded = m === 'refused' ? { kind: 'invalid_json', reason: 'not valid JSON' } : { measures: [m], isArray: false };
      internals.receive({ channel, message, generation: 1, decoded });
    }
    return listener.flush();
  };
  /** Bytes of the deliveries held unacknowledged. */
  const heldBytes = () => internals.budget.unackedBytes;
  return { batch, acked, settled, heldBytes, listener, channel };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('RabbitListener: batches written two at a time', () => {
  it('When a slow batch is overtaken, then a later batch with one of its keys still waits for it (the last write wins)', async () => {
    const processor = new ScriptedProcessor();
    const { batch, acked } = listenerWith(processor);
    void batch(measure('K')); // B1 writes K, and is slow
    void batch(measure('A')); // B2 shares nothing with B1: written beside it
    void batch(measure('B')); // B3 shares nothing with B2: waits for B1
    const all = batch(measure('K')); // B4 writes K again, later: must not commit before B1
    await settle();
    assert.deepEqual(processor.started, ['K', 'A']);
    processor.complete('A');
    await settle();
    assert.deepEqual(processor.started, ['K', 'A'], 'B4 must not start while B1, which holds the same key, is being written');
    processor.complete('K');
    await settle();
    assert.deepEqual(processor.started, ['K', 'A', 'B', 'K']);
    processor.complete('B');
    await settle();
    // B4 is also named K: the scripted processor finishes the latest batch of that name.
    processor.complete('K');
    await all;
    assert.deepEqual(acked, [1, 2, 3, 4], 'acknowledged in the order received');
  });

  it('When consecutive batches share no key, then two are written at once, never three', async () => {
    const processor = new ScriptedProcessor();
    const { batch } = listenerWith(processor);
    void batch(measure('A'));
    void batch(measure('B'));
    const all = batch(measure('C'));
    await settle();
    assert.deepEqual(processor.started, ['A', 'B']);
    processor.complete('B');
    await settle();
    assert.deepEqual(processor.started, ['A', 'B'], 'C waits until A is written too');
    processor.complete('A');
    await settle();
    assert.deepEqual(processor.started, ['A', 'B', 'C']);
    processor.complete('C');
    await all;
  });

  it("When a batch's write fails while the one before it is still written, then it is requeued after that one, and the batch after it does not ack it", async () => {
    const processor = new ScriptedProcessor();
    const { batch, settled } = listenerWith(processor);
    void batch(measure('A')); // B1: slow
    void batch(measure('B')); // B2: its write fails
    await settle();
    processor.fail('B');
    await settle();
    assert.deepEqual(settled, [], 'nothing settles before B1 is written');
    const all = batch(measure('C')); // B3: starts once B1 is written (at most two at once)
    processor.complete('A');
    await settle();
    processor.complete('C');
    await all;
    assert.deepEqual(settled, ['ack 1+', 'requeue 2', 'ack 3+'], 'B2 requeued before B3 acks with multiple, in the order cut');
  });

  it("When a refused message's dead-letter copy awaits its confirm (a memory alarm), then the messages around it and the batches after it are acknowledged meanwhile", async () => {
    const processor = new ScriptedProcessor();
    const connector = new ScriptedConnector();
    const { batch, settled, heldBytes } = listenerWith(processor, connector);
    const first = batch(measure('A'), 'refused', measure('B')); // tags 1-3
    await settle();
    processor.complete('A,refused,B');
    await first;
    assert.deepEqual(settled, ['ack 1', 'ack 3'], 'the stored ones at once, one by one: a multiple ack would cover tag 2');
    assert.deepEqual(
      connector.published.map(({ body, error }) => ({ body, error })),
      [{ body: '{"sensor":', error: 'not valid JSON' }],
    );
    const second = batch(measure('C')); // tag 4
    await settle();
    processor.complete('C');
    await second;
    assert.deepEqual(settled, ['ack 1', 'ack 3', 'ack 4'], 'a later batch does not wait for the dead-letter copy');
    assert.equal(heldBytes(), '{"sensor":'.length, 'only the refused message is held');
    connector.published[0].confirm();
    await settle();
    assert.deepEqual(settled.slice(3), ['ack 2'], 'acknowledged once its copy is confirmed');
    assert.equal(heldBytes(), 0);
    const third = batch(measure('D')); // tag 5
    await settle();
    processor.complete('D');
    await third;
    assert.deepEqual(settled.slice(4), ['ack 5+'], 'one multiple ack per batch again');
  });

  it('When the dead-letter copy is not confirmed, then the refused message is requeued, and a stop waits for that', async () => {
    const processor = new ScriptedProcessor();
    const connector = new ScriptedConnector();
    const { batch, settled, heldBytes, listener } = listenerWith(processor, connector);
    const written = batch('refused', measure('A')); // tags 1-2
    await settle();
    processor.complete('refused,A');
    await written;
    assert.deepEqual(settled, ['ack 2']);
    let stopped = false;
    const internals = listener as unknown as { wrapper: unknown; stopping: boolean };
    internals.wrapper = { close: () => Promise.resolve() };
    const stopping = listener.stop().then((ok) => (stopped = ok));
    await settle();
    assert.equal(stopped, false, 'stop() waits for the dead-letter publish');
    connector.published[0].fail();
    await stopping;
    assert.equal(stopped, true);
    assert.deepEqual(settled, ['ack 2', 'requeue 1']);
    assert.equal(heldBytes(), 0);
  });

  it('When RabbitMQ blocks publishing, then the refused message is held for its copy, and a stop requeues it at once', async () => {
    const processor = new ScriptedProcessor();
    const connector = new ScriptedConnector();
    const { batch, settled, heldBytes, listener } = listenerWith(processor, connector);
    const written = batch(measure('A'), 'refused'); // tags 1-2
    await settle();
    processor.complete('A,refused');
    await written;
    connector.blocked = true;
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(settled, ['ack 1'], 'the refused message is held while its copy waits');
    assert.equal(heldBytes(), Buffer.byteLength('{"sensor":'));
    const internals = listener as unknown as { wrapper: unknown };
    internals.wrapper = { close: () => Promise.resolve() };
    const started = Date.now();
    assert.equal(await listener.stop(), true, 'settled: requeued');
    assert.ok(Date.now() - started < 1_000, `stopped in ${Date.now() - started} ms`);
    assert.deepEqual(settled, ['ack 1', 'requeue 2']);
    assert.equal(heldBytes(), 0);
    connector.published[0].confirm(); // the blocked copy lands once the alarm lifts
    await settle();
    assert.deepEqual(settled, ['ack 1', 'requeue 2'], 'no acknowledgement after the requeue');
  });

  it('When the channel closes while a refused message awaits its copy, then it is let go (the broker requeues it) and no longer held', async () => {
    const processor = new ScriptedProcessor();
    const connector = new ScriptedConnector();
    const { batch, settled, heldBytes, listener, channel } = listenerWith(processor, connector);
    const written = batch('refused', measure('A')); // tags 1-2
    await settle();
    processor.complete('refused,A');
    await written;
    assert.equal(heldBytes(), Buffer.byteLength('{"sensor":'));
    const internals = listener as unknown as { closed(channel: unknown, generation: number): void; awaitingDeadLetter: Map<unknown, number> };
    internals.closed(channel, 1);
    assert.equal(heldBytes(), 0);
    assert.equal(internals.awaitingDeadLetter.size, 0, 'acks on a new channel go out as multiple again');
    connector.published[0].confirm();
    await settle();
    assert.deepEqual(settled, ['ack 2'], 'nothing acknowledged on the closed channel');
  });
});
