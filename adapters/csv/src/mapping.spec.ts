import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatRowErrors, headerProblems, mapRecord, type Mapping } from './mapping';

const long: Mapping = {
  experiment: { column: 'experiment_id' },
  sensorColumn: 'sensor',
  valueColumn: 'value',
  timestampColumn: 'timestamp',
  unit: { column: 'unit', required: false },
  tagColumns: [],
  sensorColumns: null,
};
const wide: Mapping = { ...long, experiment: { fixed: 'EXP-W' }, timestampColumn: 'time', sensorColumns: ['t1', 't2', 'p'] };

describe('mapRecord, long mode', () => {
  it('When a row is valid, then it is one measure with numbers parsed and epoch-ms text as a number', () => {
    assert.deepEqual(
      mapRecord({ experiment_id: 'EXP-1', sensor: 'magnet/temp', value: '4.21', timestamp: '1795428000123', unit: 'K' }, long),
      { ok: true, measures: [{ experiment_id: 'EXP-1', sensor: 'magnet/temp', value: 4.21, timestamp: 1795428000123, unit: 'K' }] },
    );
  });

  it('When the unit is empty and tag columns are named, then the unit is left out and non-empty tags are kept', () => {
    const mapping: Mapping = { ...long, tagColumns: ['run', 'shift'] };
    const result = mapRecord(
      { experiment_id: 'E', sensor: 's', value: '-1e3', timestamp: '2026-11-23T10:00:00.5+01:00', unit: '', run: '42', shift: '' },
      mapping,
    );
    assert.deepEqual(result, {
      ok: true,
      measures: [{ experiment_id: 'E', sensor: 's', value: -1000, timestamp: '2026-11-23T10:00:00.5+01:00', tags: { run: '42' } }],
    });
  });

  it('When the experiment and unit are fixed, then the columns are not read', () => {
    const mapping: Mapping = { ...long, experiment: { fixed: 'FIX' }, unit: { fixed: 'bar' } };
    const result = mapRecord({ experiment_id: 'other', sensor: 's', value: '1', timestamp: '0', unit: 'K' }, mapping);
    assert.deepEqual(result, { ok: true, measures: [{ experiment_id: 'FIX', sensor: 's', value: 1, timestamp: 0, unit: 'bar' }] });
  });

  it('When cells are bad, then each field is named with the schema message and the cell', () => {
    const result = mapRecord({ experiment_id: 'E 1', sensor: 's', value: '0x1F', timestamp: '2026-11-23 10:00' }, long);
    assert.equal(result.ok, false);
    assert.deepEqual(formatRowErrors(7, result.ok ? [] : result.errors), [
      'line 7: experiment_id: must be 1-64 characters of A-Z a-z 0-9 . _ : - (got "E 1")',
      'line 7: value: Invalid input: expected number, received string (got "0x1F")',
      'line 7: timestamp: Invalid ISO datetime (got "2026-11-23 10:00")',
    ]);
  });

  it('When a value is text that Number() would take but is no plain decimal, then it is refused', () => {
    for (const value of ['Infinity', '1e999', '0x10', '1,5', 'NaN']) {
      const result = mapRecord({ experiment_id: 'E', sensor: 's', value, timestamp: '0' }, long);
      assert.deepEqual(result.ok ? [] : result.errors, [
        { field: 'value', message: `Invalid input: expected number, received string (got "${value}")` },
      ]);
    }
  });

  it('When the value is empty or the sensor missing, then the row says so', () => {
    const result = mapRecord({ experiment_id: 'E', value: '', timestamp: '1' }, long);
    assert.deepEqual(result.ok ? [] : result.errors.map((e) => `${e.field}: ${e.message}`), [
      'sensor: Invalid input: expected string, received undefined (missing)',
      'value: Invalid input: expected number, received undefined (empty)',
    ]);
  });

  it('When JSON values are given, then numbers pass, numeric tag values become strings, and objects are refused', () => {
    const mapping: Mapping = { ...long, tagColumns: ['run'] };
    assert.deepEqual(mapRecord({ experiment_id: 'E', sensor: 's', value: 2.5, timestamp: 1795428000123, run: 7, unit: null }, mapping), {
      ok: true,
      measures: [{ experiment_id: 'E', sensor: 's', value: 2.5, timestamp: 1795428000123, tags: { run: '7' } }],
    });
    const bad = mapRecord({ experiment_id: 'E', sensor: 's', value: { v: 1 }, timestamp: 1.5 }, long);
    assert.deepEqual(bad.ok ? [] : bad.errors.map((e) => e.field), ['value', 'timestamp']);
  });
});

describe('mapRecord, wide mode', () => {
  it('When a row has values in some sensor columns, then each non-empty one is a measure named after its column', () => {
    const result = mapRecord({ time: '2026-11-23T10:00:00Z', t1: '4.2', t2: '', p: ' 1013.25 ', other: 'x' }, { ...wide, unit: { fixed: 'K' } });
    assert.deepEqual(result, {
      ok: true,
      measures: [
        { experiment_id: 'EXP-W', sensor: 't1', value: 4.2, timestamp: '2026-11-23T10:00:00Z', unit: 'K' },
        { experiment_id: 'EXP-W', sensor: 'p', value: 1013.25, timestamp: '2026-11-23T10:00:00Z', unit: 'K' },
      ],
    });
  });

  it('When every sensor cell is empty, then the row has no measure and is valid', () => {
    assert.deepEqual(mapRecord({ time: '1', t1: '', t2: '', p: '' }, wide), { ok: true, measures: [] });
  });

  it('When a sensor cell is bad, then the error names the column', () => {
    const result = mapRecord({ time: '2026-11-23T10:00:00Z', t1: 'n/a', t2: '1', p: '2' }, wide);
    assert.deepEqual(result.ok ? [] : formatRowErrors(3, result.errors), [
      'line 3: [t1].value: Invalid input: expected number, received string (got "n/a")',
    ]);
  });
});

describe('headerProblems', () => {
  it('When the header has the columns the flags name, then there is no problem', () => {
    assert.deepEqual(headerProblems(['experiment_id', 'sensor', 'value', 'timestamp'], long), []);
    assert.deepEqual(headerProblems(['time', 't1', 't2', 'p'], wide), []);
  });

  it('When columns are missing, then they are named with the header', () => {
    assert.deepEqual(headerProblems(['time', 't1'], { ...wide, tagColumns: ['run'], unit: { column: 'u', required: true } }), [
      'columns "t2", "p", "u", "run" not in the header (time, t1)',
    ]);
    assert.deepEqual(headerProblems(['experiment_id', 'sensor', 'value'], long), ['column "timestamp" not in the header (experiment_id, sensor, value)']);
  });
});
