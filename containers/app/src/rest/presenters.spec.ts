import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { measurePageJson, presentMeasure } from './presenters';

const measure = (sensor: string, timestamp: number, value: number, unit: string | null, tags: Record<string, string> | null) => ({
  sensor,
  timestamp,
  value,
  unit,
  tags,
});

describe('measurePageJson', () => {
  it('When measures hold awkward values, then the text is exactly JSON.stringify of the presented page', () => {
    const items = [
      measure('magnet/temp-01', Date.UTC(2026, 10, 23, 10), 4.2, 'K', null),
      measure('magnet/temp-01', Date.UTC(2026, 10, 23, 10), -0, null, { run: '7', 'note "quoted"': 'a\\b\n\u2028' }),
      measure('δ sensor "x"', Date.UTC(1969, 11, 31, 23, 59, 59, 999), 1e-7, 'µV', {}),
      measure('s', 8_640_000_000_000_000, 1.7976931348623157e308, '', null),
      measure('s', 0, -123456789.000001, 'degC', null),
    ];
    for (const cursor of [null, 'eyJ0IjoxfQ']) {
      const expected = JSON.stringify({ items: items.map(presentMeasure('EXP-"1"')), next_cursor: cursor });
      assert.equal(measurePageJson('EXP-"1"', items, cursor), expected);
    }
    assert.equal(measurePageJson('E', [], null), JSON.stringify({ items: [], next_cursor: null }));
  });

  it('When a value is not a finite number, then it refuses rather than write invalid JSON', () => {
    assert.throws(() => measurePageJson('E', [measure('s', 0, Number.NaN, null, null)], null), /not a finite number/);
  });
});
