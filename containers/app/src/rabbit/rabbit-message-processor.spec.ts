import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AppConfig } from '../config';
import { Logging } from '../logging/logging';
import { Metrics } from '../metrics/metrics';
import type { Measure } from '../model/measure';
import type { MeasureRepository, UnknownExperiment } from '../storage/measure.repository';
import { RabbitMessageProcessor, isTransient } from './rabbit-message-processor';

const logging = new Logging({ logLevel: 'error', logstash: { enabled: false } } as AppConfig, new Metrics(), 'process');
const body = (value: unknown, experimentId = 'EXP') =>
  Buffer.from(JSON.stringify({ experiment_id: experimentId, sensor: 's', value, timestamp: 1 }));

/** A stand-in for the measures table: scripted failures, and what was stored. */
class FakeMeasures {
  stored: Measure[][] = [];
  calls = 0;
  constructor(private readonly behaviour: (messages: Measure[][], call: number) => Map<number, UnknownExperiment> | Error) {}
  storeMessages(messages: Measure[][]): Promise<Map<number, UnknownExperiment>> {
    const outcome = this.behaviour(messages, ++this.calls);
    if (outcome instanceof Error) return Promise.reject(outcome);
    this.stored.push(...messages.filter((_, i) => !outcome.has(i)));
    return Promise.resolve(outcome);
  }
}

const processorWith = (fake: FakeMeasures) => new RabbitMessageProcessor(fake as unknown as MeasureRepository, logging);
const decodeAll = (processor: RabbitMessageProcessor, bodies: Buffer[]) => bodies.map((b) => processor.decode(b));

describe('RabbitMessageProcessor', () => {
  it('When MySQL is briefly unreachable, then the batch is retried and stored once it is back', async () => {
    const fake = new FakeMeasures((_, call) => (call < 3 ? Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) : new Map()));
    const processor = processorWith(fake);
    const outcomes = await processor.process(decodeAll(processor, [body(1), body(2)]));
    assert.deepEqual(outcomes.map((o) => o.stored), [true, true]);
    assert.equal(fake.calls, 3);
    assert.equal(fake.stored.length, 2);
  });

  it('When the batch is no longer wanted during an outage, then it is left unsettled, nothing claimed stored', async () => {
    const fake = new FakeMeasures(() => Object.assign(new Error('gone'), { code: 'PROTOCOL_CONNECTION_LOST' }));
    const processor = processorWith(fake);
    let asked = 0;
    const outcomes = await processor.process(decodeAll(processor, [body(1)]), () => ++asked < 2);
    assert.deepEqual(outcomes, [{ stored: null }]);
    assert.equal(fake.stored.length, 0);
  });

  it('When MySQL refuses one message for good, then only that one is dead-lettered and the others are stored', async () => {
    const fake = new FakeMeasures((messages) =>
      messages.some((m) => m[0].value === 13) ? Object.assign(new Error('Out of range value'), { code: 'ER_WARN_DATA_OUT_OF_RANGE' }) : new Map(),
    );
    const processor = processorWith(fake);
    const outcomes = await processor.process(decodeAll(processor, [1, 2, 13, 4, 5].map((v) => body(v))));
    assert.deepEqual(outcomes.map((o) => o.stored), [true, true, false, true, true]);
    assert.match((outcomes[2] as { reason: string }).reason, /^storage refused the message: ER_WARN_DATA_OUT_OF_RANGE/);
    assert.deepEqual(fake.stored.map((m) => m[0].value).sort(), [1, 2, 4, 5]);
  });

  it('When a message names an unknown experiment, then its reason names the measure', async () => {
    const fake = new FakeMeasures((messages) => new Map(messages.flatMap((m, i) => (m.some((x) => x.experimentId === 'NOPE') ? [[i, { measureIndex: m.findIndex((x) => x.experimentId === 'NOPE'), experimentId: 'NOPE' }]] : [])) as [number, UnknownExperiment][]));
    const processor = processorWith(fake);
    const batch = Buffer.from(JSON.stringify([JSON.parse(body(1).toString()), JSON.parse(body(2, 'NOPE').toString())]));
    const outcomes = await processor.process(decodeAll(processor, [body(1, 'NOPE'), batch, body(3)]));
    assert.deepEqual(outcomes.map((o) => (o.stored === false ? o.reason : o.stored)), [
      'experiment_id: unknown experiment NOPE',
      '[1].experiment_id: unknown experiment NOPE',
      true,
    ]);
  });

  it('When errors are classified, then lost connections and deadlocks are transient, bad data is not', () => {
    for (const code of ['ECONNREFUSED', 'PROTOCOL_CONNECTION_LOST', 'ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']) {
      assert.equal(isTransient({ code }), true, code);
    }
    assert.equal(isTransient({ code: 'ER_WARN_DATA_OUT_OF_RANGE' }), false);
    assert.equal(isTransient({ code: 'ER_PARSE_ERROR' }), false);
  });
});
