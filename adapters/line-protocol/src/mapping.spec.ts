import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MeasureInput } from '@mymonit/publisher';
import { parseLineProtocol } from './line-protocol';
import { DEFAULT_MAPPING, mapPoints, type MappingOptions, type WriteContext } from './mapping';
import { parsePrecision, toEpochMillis } from './precision';

const NOW = Date.parse('2026-11-26T10:00:00.000Z');

function map(text: string, context: Partial<WriteContext> = {}, options: Partial<MappingOptions> = {}) {
  const parsed = parseLineProtocol(text);
  assert.deepEqual(parsed.errors, [], 'the test lines parse');
  return mapPoints(
    parsed.points,
    { defaultSource: 'bucket', precision: 'ns', receivedAt: NOW, ...context },
    { ...DEFAULT_MAPPING, ...options },
  );
}

describe('mapping points to measures', () => {
  it('When a line has tags and several numeric fields, then each field is a measure of sensor <measurement>.<field> with the other tags', () => {
    const result = map('cpu,experiment=EXP-1,host=node-1,cpu=cpu0 usage_idle=97.5,usage_user=2i 1795687200123456789');
    assert.deepEqual(result, {
      measures: [
        {
          experiment_id: 'EXP-1',
          sensor: 'cpu.usage_idle',
          value: 97.5,
          timestamp: 1795687200123,
          tags: { host: 'node-1', cpu: 'cpu0' },
        },
        {
          experiment_id: 'EXP-1',
          sensor: 'cpu.usage_user',
          value: 2,
          timestamp: 1795687200123,
          tags: { host: 'node-1', cpu: 'cpu0' },
        },
      ],
      skippedFields: 0,
      errors: [],
    });
    for (const measure of result.measures) assert.ok(MeasureInput.safeParse(measure).success);
  });

  it('When the separator is changed or the prefix turned off, then the sensor name follows', () => {
    const line = 'magnet,experiment=E temp=4.2 1';
    assert.equal(map(line, {}, { sensorSeparator: '/' }).measures[0].sensor, 'magnet/temp');
    assert.equal(map(line, {}, { measurementPrefix: false }).measures[0].sensor, 'temp');
  });

  describe('experiment', () => {
    it('When the line has the experiment tag, then it wins over the bucket and is not kept as a tag', () => {
      const [measure] = map('m,experiment=FROM-TAG f=1 1', { defaultExperiment: 'FROM-BUCKET' }).measures;
      assert.equal(measure.experiment_id, 'FROM-TAG');
      assert.equal(measure.tags, undefined);
    });

    it('When the line has no experiment tag, then the bucket (v2) or db (v1) names the experiment', () => {
      assert.equal(map('m f=1 1', { defaultExperiment: 'EXP-B' }).measures[0].experiment_id, 'EXP-B');
      assert.equal(map('m f=1 1', { defaultExperiment: 'EXP-DB', defaultSource: 'db' }).measures[0].experiment_id, 'EXP-DB');
    });

    it('When the experiment tag key is configured, then that tag is used and the default one is an ordinary tag', () => {
      const [measure] = map('m,run=R1,experiment=x f=1 1', {}, { experimentTag: 'run' }).measures;
      assert.equal(measure.experiment_id, 'R1');
      assert.deepEqual(measure.tags, { experiment: 'x' });
    });

    it('When there is neither tag nor bucket, then the line is an error naming what is missing', () => {
      const result = map('m f=1 1\nm,experiment=E f=2 1', {}, {});
      assert.deepEqual(result.errors, [
        { line: 1, reason: 'no experiment: the line has no "experiment" tag and the request no bucket parameter' },
      ]);
      assert.equal(result.measures.length, 1);
    });

    it('When the experiment is not a valid id, then the error says where it came from', () => {
      const result = map('m f=1 1', { defaultExperiment: 'my bucket' });
      assert.equal(result.errors.length, 1);
      assert.match(result.errors[0].reason, /^experiment "my bucket" \(the bucket parameter\): must be 1-64 characters/);
    });
  });

  describe('values', () => {
    it('When fields are booleans, then true is 1 and false is 0', () => {
      assert.deepEqual(
        map('m,experiment=E a=true,b=F 1').measures.map((m) => m.value),
        [1, 0],
      );
    });

    it('When fields are unsigned or negative integers, then they are numbers', () => {
      assert.deepEqual(
        map('m,experiment=E a=7u,b=-9007199254740991i,c=9007199254740991u 1').measures.map((m) => m.value),
        [7, -9007199254740991, 9007199254740991],
      );
    });

    it('When an integer is beyond Number.MAX_SAFE_INTEGER, then the line is an error (not a rounded value)', () => {
      const result = map('m,experiment=E ok=1 1\nm,experiment=E big=9007199254740993i 1\nm,experiment=E u=18446744073709551615u 1');
      assert.deepEqual(
        result.errors.map((e) => e.line),
        [2, 3],
      );
      assert.match(result.errors[0].reason, /field "big": 9007199254740993 is beyond ±9007199254740991/);
      assert.equal(result.measures.length, 1);
    });

    it('When fields are strings, then they are skipped and counted, and the numeric ones of the line are kept', () => {
      const result = map('m,experiment=E status="ok",v=1,note="x" 1\nm,experiment=E only="text" 1');
      assert.deepEqual(
        result.measures.map((m) => m.sensor),
        ['m.v'],
      );
      assert.equal(result.skippedFields, 3);
      assert.deepEqual(result.errors, []);
    });
  });

  describe('validation with MyMONIT schema', () => {
    it('When a sensor name is not allowed by MyMONIT, then the line is an error naming the sensor and nothing of it is kept', () => {
      const result = map('cpu\\ load,experiment=E ok=1,x=2 1\nm,experiment=E ok=1 1');
      assert.deepEqual(result.errors.length, 1);
      assert.equal(result.errors[0].line, 1);
      assert.match(result.errors[0].reason, /^sensor "cpu load\.ok": must be 1-128 characters/);
      assert.deepEqual(
        result.measures.map((m) => m.sensor),
        ['m.ok'],
      );
    });

    it('When a line has more than 16 tags, then it is an error', () => {
      const tags = Array.from({ length: 17 }, (_, i) => `t${i}=v`).join(',');
      const result = map(`m,experiment=E,${tags} f=1 1`);
      assert.match(result.errors[0].reason, /tags: at most 16 tags/);
    });

    it('When a timestamp is beyond the year 9999, then the line is an error naming the timestamp', () => {
      const result = map('m,experiment=E f=1 9223372036854775807', { precision: 's' });
      assert.match(result.errors[0].reason, /^timestamp 9223372036854775807: out of range/);
    });
  });

  describe('timestamps', () => {
    it('When the line has no timestamp, then the time the request arrived is used', () => {
      assert.equal(map('m,experiment=E f=1').measures[0].timestamp, NOW);
    });

    it('When the precision is ns, us, ms, s, m or h, then the timestamp becomes epoch milliseconds', () => {
      const cases = [
        ['ns', '1795687200123999999', 1795687200123],
        ['us', '1795687200123999', 1795687200123],
        ['ms', '1795687200123', 1795687200123],
        ['s', '1795687200', 1795687200000],
        ['m', '29928120', 1795687200000],
        ['h', '498802', 1795687200000],
      ] as const;
      for (const [precision, written, ms] of cases) {
        assert.equal(map(`m,experiment=E f=1 ${written}`, { precision }).measures[0].timestamp, ms, precision);
      }
    });

    it('When ns timestamps differ below a millisecond, then they floor to the same millisecond, exactly (BigInt, no double rounding)', () => {
      // As a double, 1795687200123999999 is 1795687200124000000: rounding through Number would give ...124.
      assert.equal(Number(1795687200123999999n), 1795687200124000000);
      assert.equal(toEpochMillis(1795687200123999999n, 'ns'), 1795687200123);
      assert.equal(toEpochMillis(1795687200123000000n, 'ns'), 1795687200123);
      assert.equal(toEpochMillis(9223372036854775807n, 'ns'), 9223372036854);
    });

    it('When a timestamp is before 1970, then it floors towards the earlier millisecond', () => {
      assert.equal(toEpochMillis(-1n, 'ns'), -1);
      assert.equal(toEpochMillis(-1_000_000n, 'ns'), -1);
      assert.equal(toEpochMillis(-1_000_001n, 'ns'), -2);
      assert.equal(toEpochMillis(-1500n, 'us'), -2);
    });

    it('When the precision parameter is given, then each API accepts its own spellings (default ns)', () => {
      assert.equal(parsePrecision('v2', null), 'ns');
      assert.equal(parsePrecision('v1', ''), 'ns');
      assert.equal(parsePrecision('v2', 'us'), 'us');
      assert.equal(parsePrecision('v2', 'h'), null);
      assert.equal(parsePrecision('v2', 'n'), null);
      assert.equal(parsePrecision('v1', 'n'), 'ns');
      assert.equal(parsePrecision('v1', 'u'), 'us');
      assert.equal(parsePrecision('v1', 'h'), 'h');
      assert.equal(parsePrecision('v1', 'd'), null);
    });
  });
});
