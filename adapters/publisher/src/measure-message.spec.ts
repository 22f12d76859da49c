import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_MEASURES_PER_MESSAGE, parseMeasureMessage } from './measure-message';

const valid = {
  experiment_id: 'ATLAS-TDAQ-01',
  sensor: 'magnet/temp-01',
  value: 4.21,
  unit: 'K',
  timestamp: '2026-11-23T10:00:00.123Z',
  tags: { run: '42' },
};

const fields = (body: unknown) => {
  const result = parseMeasureMessage(body);
  assert.equal(result.ok, false, 'should be rejected');
  return result.ok ? [] : result.errors.map((e) => e.field);
};

describe('parseMeasureMessage', () => {
  it('When text holds a lone surrogate, then it is refused where it is; characters beyond the BMP pass', () => {
    assert.deepEqual(fields([valid, { ...valid, unit: 'K\ud800' }, { ...valid, tags: { run: '\udc00' } }]), ['[1].unit', '[2].tags.run']);
    const result = parseMeasureMessage({ ...valid, unit: '°C😀', tags: { run: '😀 µΩ' } });
    assert.ok(result.ok);
    assert.equal(result.measures[0].unit, '°C😀');
    assert.deepEqual(result.measures[0].tags, { run: '😀 µΩ' });
  });

  it('When one measure is valid, then it is normalised to epoch milliseconds', () => {
    const result = parseMeasureMessage(valid);
    assert.ok(result.ok);
    assert.deepEqual(result.measures, [
      {
        experimentId: 'ATLAS-TDAQ-01',
        sensor: 'magnet/temp-01',
        value: 4.21,
        unit: 'K',
        timestamp: Date.parse('2026-11-23T10:00:00.123Z'),
        tags: { run: '42' },
      },
    ]);
  });

  it('When timestamps carry an offset or are epoch ms, then they mean the same instant', () => {
    const result = parseMeasureMessage([
      { ...valid, timestamp: '2026-11-23T11:00:00.123+01:00' },
      { ...valid, timestamp: Date.parse('2026-11-23T10:00:00.123Z') },
      { ...valid, timestamp: '2026-11-23T10:00:00.123000Z' },
    ]);
    assert.ok(result.ok);
    assert.deepEqual(new Set(result.measures.map((m) => m.timestamp)).size, 1);
  });

  it('When unit and tags are absent or null, then they are stored as null', () => {
    const { unit: _u, tags: _t, ...bare } = valid;
    const result = parseMeasureMessage([bare, { ...bare, unit: null, tags: null }, { ...bare, tags: {} }]);
    assert.ok(result.ok);
    for (const m of result.measures) assert.deepEqual([m.unit, m.tags], [null, null]);
  });

  it('When a field of a measure in a batch is bad, then the error names its index and field', () => {
    assert.deepEqual(fields([valid, valid, { ...valid, value: 'hot' }]), ['[2].value']);
    assert.deepEqual(fields([valid, { ...valid, sensor: 'bad sensor!' }]), ['[1].sensor']);
  });

  it('When values break the contract, then each is named', () => {
    assert.deepEqual(fields({ ...valid, timestamp: '2026-11-23T10:00:00' }), ['timestamp']);
    assert.deepEqual(fields({ ...valid, timestamp: '2026-11-23T10:00:00.1234Z' }), ['timestamp']);
    assert.deepEqual(fields({ ...valid, timestamp: 1.5 }), ['timestamp']);
    assert.deepEqual(fields({ ...valid, unit: 'x'.repeat(17) }), ['unit']);
    assert.deepEqual(fields({ ...valid, sensor: 's'.repeat(129) }), ['sensor']);
    assert.deepEqual(fields({ ...valid, tags: { ['k'.repeat(65)]: 'v' } }), ['tags.' + 'k'.repeat(65)]);
    assert.deepEqual(fields({ ...valid, tags: { k: 'v'.repeat(257) } }), ['tags.k']);
    assert.deepEqual(fields({ ...valid, tags: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }), ['tags']);
    assert.deepEqual(fields({ ...valid, experiment_id: '' }), ['experiment_id']);
    assert.deepEqual(fields({ ...valid, colour: 'red' }), ['(root)']);
  });

  it('When value is not a finite number, then it is rejected', () => {
    for (const value of [Infinity, -Infinity, NaN, '1', null]) assert.deepEqual(fields({ ...valid, value }), ['value']);
  });

  it('When a batch is empty or too large, then it is rejected as a whole', () => {
    assert.deepEqual(fields([]), ['(root)']);
    assert.deepEqual(fields(Array.from({ length: MAX_MEASURES_PER_MESSAGE + 1 }, () => valid)), ['(root)']);
    assert.ok(parseMeasureMessage(Array.from({ length: MAX_MEASURES_PER_MESSAGE }, () => valid)).ok);
  });

  it('When the body is not an object or array, then it is rejected', () => {
    for (const body of [null, 42, 'text', true]) assert.equal(parseMeasureMessage(body).ok, false);
  });
});
