import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AppConfig } from '../config';
import { Logging } from '../logging/logging';
import { Metrics } from '../metrics/metrics';
import type { Measure } from '../model/measure';
import type { MeasureRepository, UnknownExperiment } from '../storage/measure.repository';
import { isCausedByData } from '../storage/storage-connector';
import { RabbitMessageProcessor } from './rabbit-message-processor';

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
  /** The first measure that, written alone, is refused (as the repository finds it, by halves). */
  refusedMeasure(measures: Measure[]): Promise<{ index: number; error: unknown } | null> {
    const index = measures.findIndex((m) => this.behaviour([[m]], 0) instanceof Error);
    return Promise.resolve(index < 0 ? null : { index, error: this.behaviour([[measures[index]]], 0) });
  }
}

const processorWith = (fake: FakeMeasures, metrics = new Metrics()) =>
  new RabbitMessageProcessor(fake as unknown as MeasureRepository, logging, metrics);
/** An error as mysql2 reports a refusal of the server. */
const refusal = (code: string, sqlState: string, message: string, errno?: number) => Object.assign(new Error(message), { code, sqlState, errno });
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
      messages.some((m) => m[0].value === 13) ? refusal('ER_WARN_DATA_OUT_OF_RANGE', '22003', 'Out of range value') : new Map(),
    );
    const processor = processorWith(fake);
    const outcomes = await processor.process(decodeAll(processor, [1, 2, 13, 4, 5].map((v) => body(v))));
    assert.deepEqual(outcomes.map((o) => o.stored), [true, true, false, true, true]);
    assert.equal((outcomes[2] as { reason: string }).reason, 'storage refused the message: Out of range value (ER_WARN_DATA_OUT_OF_RANGE)');
    assert.deepEqual(fake.stored.map((m) => m[0].value).sort(), [1, 2, 4, 5]);
  });

  it('When MySQL refuses one measure of an array message, then the whole message is dead-lettered and its reason names that measure', async () => {
    const fake = new FakeMeasures((messages) =>
      messages.some((m) => m.some((x) => x.value === 13)) ? refusal('ER_INNODB_AUTOEXTEND_SIZE_OUT_OF_RANGE', '23000', 'CONSTRAINT `no_13` failed', 4025) : new Map(),
    );
    const processor = processorWith(fake);
    const array = (...values: number[]) => Buffer.from(JSON.stringify(values.map((v) => JSON.parse(body(v).toString()) as unknown)));
    const outcomes = await processor.process(decodeAll(processor, [body(1), array(2, 3, 13, 4), array(13), body(5)]));
    assert.deepEqual(outcomes.map((o) => (o.stored === false ? o.reason : o.stored)), [
      true,
      '[2]: storage refused the measure: CONSTRAINT `no_13` failed (error 4025, SQLSTATE 23000)',
      '[0]: storage refused the measure: CONSTRAINT `no_13` failed (error 4025, SQLSTATE 23000)',
      true,
    ]);
    assert.deepEqual(fake.stored.flat().map((m) => m.value).sort(), [1, 5], 'nothing of the refused messages stored');
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

  it('When MySQL refuses every write for a reason of its own (read-only), then nothing is dead-lettered and all is stored once it accepts', async () => {
    const readOnly = refusal('ER_OPTION_PREVENTS_STATEMENT', 'HY000', 'The MariaDB server is running with the --read-only option');
    const fake = new FakeMeasures((_, call) => (call <= 2 ? readOnly : new Map()));
    const metrics = new Metrics();
    const processor = processorWith(fake, metrics);
    const outcomes = await processor.process(decodeAll(processor, [body(1), body(2), body(3)]));
    assert.deepEqual(outcomes.map((o) => o.stored), [true, true, true]);
    assert.equal(fake.calls, 3, 'the whole batch retried, not split message by message');
    assert.match(await metrics.registry.metrics(), /mymonit_ingest_store_retries_total\{reason="ER_OPTION_PREVENTS_STATEMENT"[^}]*\} 2\n/);
  });

  it('When errors are classified, then only what a message itself causes is the message\'s fault', () => {
    const byData = [
      refusal('ER_WARN_DATA_OUT_OF_RANGE', '22003', 'Out of range value'),
      refusal('ER_DATA_TOO_LONG', '22001', 'Data too long'),
      refusal('ER_BAD_NULL_ERROR', '23000', 'Column cannot be null'),
      refusal('ER_CHECK_CONSTRAINT_VIOLATED', 'HY000', 'Check constraint is violated'),
      refusal('ER_NET_PACKET_TOO_LARGE', '08S01', 'Got a packet bigger than max_allowed_packet'),
      new Error('refusing to write a measure with a non-numeric key or value (sensor s)'),
    ];
    for (const error of byData) assert.equal(isCausedByData(error), true, error.message);
    const byDatabase = [
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('Connection lost'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true }),
      refusal('ER_LOCK_DEADLOCK', '40001', 'Deadlock found'),
      refusal('ER_LOCK_WAIT_TIMEOUT', 'HY000', 'Lock wait timeout exceeded'),
      refusal('ER_OPTION_PREVENTS_STATEMENT', 'HY000', 'read-only'),
      refusal('ER_NO_SUCH_TABLE', '42S02', "Table 'measures' doesn't exist"),
      refusal('ER_TABLEACCESS_DENIED_ERROR', '42000', 'INSERT command denied'),
      refusal('ER_RECORD_FILE_FULL', 'HY000', 'The table is full'),
      new Error('Pool is closed.'),
    ];
    for (const error of byDatabase) assert.equal(isCausedByData(error), false, error.message);
  });
});
