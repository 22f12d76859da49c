import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLineProtocol, type FieldValue, type Point } from './line-protocol';

/** The single point of a one-line body that must parse. */
function one(text: string): Point {
  const { points, errors } = parseLineProtocol(text);
  assert.deepEqual(errors, [], `errors for ${JSON.stringify(text)}`);
  assert.equal(points.length, 1);
  return points[0];
}

function fieldOf(text: string): FieldValue {
  return one(`m f=${text}`).fields[0].value;
}

/** The reason a one-line body is refused. */
function refused(text: string): string {
  const { points, errors } = parseLineProtocol(text);
  assert.equal(points.length, 0, `${JSON.stringify(text)} should be refused`);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].line, 1);
  return errors[0].reason;
}

describe('line protocol parser', () => {
  describe('elements', () => {
    it('When a full line is given, then measurement, tags in order, fields and timestamp are read', () => {
      assert.deepEqual(one('weather,location=us-midwest,season=summer temperature=82,humidity=71i 1465839830100400200'), {
        line: 1,
        measurement: 'weather',
        tags: [
          ['location', 'us-midwest'],
          ['season', 'summer'],
        ],
        fields: [
          { key: 'temperature', value: { kind: 'float', value: 82 } },
          { key: 'humidity', value: { kind: 'integer', value: 71n } },
        ],
        timestamp: 1465839830100400200n,
      });
    });

    it('When there is no tag and no timestamp, then the point has neither', () => {
      const point = one('cpu value=1');
      assert.deepEqual(point.tags, []);
      assert.equal(point.timestamp, null);
    });

    it('When the timestamp is negative (before 1970), then it is kept', () => {
      assert.equal(one('m f=1 -1000').timestamp, -1000n);
    });

    it('When sections are separated by several spaces or the line has leading and trailing spaces, then it still parses', () => {
      const point = one('   m,t=1   f=1    123   ');
      assert.equal(point.measurement, 'm');
      assert.equal(point.timestamp, 123n);
    });
  });

  describe('escaping', () => {
    it('When a measurement has escaped commas and spaces, then they are part of it (an equals sign needs no escape)', () => {
      assert.equal(one('my\\ meas\\,ure=ment f=1').measurement, 'my meas,ure=ment');
    });

    it('When tag keys and values have escaped commas, equals signs and spaces, then they are part of them', () => {
      assert.deepEqual(one('m,tag\\ key\\,1\\=x=tag\\ value\\,2\\=y f=1').tags, [['tag key,1=x', 'tag value,2=y']]);
    });

    it('When a field key has escaped commas, equals signs and spaces, then they are part of it', () => {
      assert.equal(one('m field\\ key\\,a\\=b=1').fields[0].key, 'field key,a=b');
    });

    it('When a backslash precedes a character that needs no escape, then it is a literal backslash (as InfluxDB reads it)', () => {
      const point = one('C:\\temp,path=C:\\dir\\x,two=a\\\\b f=1');
      assert.equal(point.measurement, 'C:\\temp');
      assert.deepEqual(point.tags, [
        ['path', 'C:\\dir\\x'],
        ['two', 'a\\\\b'],
      ]);
    });

    it('When a backslash run ends with an escapable character, then only that character is escaped', () => {
      assert.deepEqual(one('m,t=a\\\\,u f=1').tags, [['t', 'a\\,u']]);
    });

    it('When names hold quotes and Unicode, then they are kept as written', () => {
      const point = one(`"m",'t'=🍭 "f"=1`);
      assert.equal(point.measurement, '"m"');
      assert.deepEqual(point.tags, [["'t'", '🍭']]);
      assert.equal(point.fields[0].key, '"f"');
    });
  });

  describe('field values', () => {
    it('When floats are written in any of the allowed forms, then they are read as numbers', () => {
      for (const [text, value] of [
        ['1', 1],
        ['1.0', 1],
        ['-3.14', -3.14],
        ['1.', 1],
        ['.5', 0.5],
        ['-.5', -0.5],
        ['1e3', 1000],
        ['-1.234456e+78', -1.234456e78],
        ['6.02E-23', 6.02e-23],
        ['1.e2', 100],
      ] as const) {
        assert.deepEqual(fieldOf(text), { kind: 'float', value }, text);
      }
    });

    it('When integers carry an i suffix, then they are read exactly, over the whole signed 64-bit range', () => {
      assert.deepEqual(fieldOf('42i'), { kind: 'integer', value: 42n });
      assert.deepEqual(fieldOf('-9223372036854775808i'), { kind: 'integer', value: -9223372036854775808n });
      assert.deepEqual(fieldOf('9223372036854775807i'), { kind: 'integer', value: 9223372036854775807n });
    });

    it('When unsigned integers carry a u suffix, then they are read exactly, up to 2^64-1', () => {
      assert.deepEqual(fieldOf('7u'), { kind: 'unsigned', value: 7n });
      assert.deepEqual(fieldOf('18446744073709551615u'), { kind: 'unsigned', value: 18446744073709551615n });
    });

    it('When booleans are written in any accepted spelling, then they are read as booleans', () => {
      for (const word of ['t', 'T', 'true', 'True', 'TRUE']) assert.deepEqual(fieldOf(word), { kind: 'boolean', value: true });
      for (const word of ['f', 'F', 'false', 'False', 'FALSE']) assert.deepEqual(fieldOf(word), { kind: 'boolean', value: false });
    });

    it('When a string has escaped quotes and backslashes, commas, spaces and equals signs, then it is read whole', () => {
      assert.deepEqual(fieldOf('"say \\"hi\\", a=b \\\\ c:\\d"'), { kind: 'string', value: 'say "hi", a=b \\ c:\\d' });
      assert.deepEqual(fieldOf('""'), { kind: 'string', value: '' });
    });

    it('When a string spans lines, then it is one value and the next point has the right line number', () => {
      const { points, errors } = parseLineProtocol('m s="one\ntwo",f=1 5\nm f=2\nbad');
      assert.deepEqual(points[0].fields[0].value, { kind: 'string', value: 'one\ntwo' });
      assert.equal(points[0].timestamp, 5n);
      assert.equal(points[1].line, 3);
      assert.deepEqual(errors, [{ line: 4, reason: 'missing fields' }]);
    });

    it('When a line mixes every type, then each field has its own', () => {
      const point = one('m a=1.5,b=2i,c=3u,d=true,e="x"');
      assert.deepEqual(
        point.fields.map((f) => f.value.kind),
        ['float', 'integer', 'unsigned', 'boolean', 'string'],
      );
    });
  });

  describe('lines', () => {
    it('When the body has comments, blank lines and CRLF endings, then only the points are read, with their line numbers', () => {
      const { points, errors } = parseLineProtocol('# a comment\r\n\r\ncpu v=1 1\r\n   # indented comment\n\n   \ncpu v=2 2\r\n');
      assert.deepEqual(errors, []);
      assert.deepEqual(
        points.map((p) => [p.line, p.timestamp]),
        [
          [3, 1n],
          [7, 2n],
        ],
      );
    });

    it('When the body is empty or only comments, then there is nothing', () => {
      assert.deepEqual(parseLineProtocol(''), { points: [], errors: [] });
      assert.deepEqual(parseLineProtocol('# nothing\n\n'), { points: [], errors: [] });
    });

    it('When the last line has no newline or ends with a CR, then it is read', () => {
      assert.equal(parseLineProtocol('m f=1\nm f=2').points.length, 2);
      assert.equal(parseLineProtocol('m f=1\r').points.length, 1);
    });
  });

  describe('errors', () => {
    it('When several lines are bad, then each is named with its 1-based line number and the good ones are still read', () => {
      const { points, errors } = parseLineProtocol(['m f=1', 'm', 'm f=2', '# ok', 'm f=x 1', 'm f=3'].join('\n'));
      assert.deepEqual(
        points.map((p) => p.line),
        [1, 3, 6],
      );
      assert.deepEqual(errors, [
        { line: 2, reason: 'missing fields' },
        { line: 5, reason: 'invalid value for field "f": x' },
      ]);
    });

    it('When lines break the syntax, then the reason says how', () => {
      const cases: [string, RegExp][] = [
        ['m', /missing fields/],
        ['m ', /missing fields/],
        ['m,t=1', /missing fields/],
        [',t=1 f=1', /missing measurement/],
        ['=1', /missing fields/],
        ['m, f=1', /missing tag key/],
        ['m,t f=1', /tag key "t" has no "="/],
        ['m,t= f=1', /tag "t" has an empty value/],
        ['m,t=a=b f=1', /unescaped "=" in the value of tag "t"/],
        ['m,t=1,t=2 f=1', /duplicate tag "t"/],
        ['m =1', /missing field key/],
        ['m f', /field key "f" has no "="/],
        ['m f=', /field "f" has no value/],
        ['m f=1,', /missing field after ","/],
        ['m f=1,,g=2', /missing field key/],
        ['m f=abc', /invalid value for field "f": abc/],
        ['m f=1.5i', /invalid value/],
        ['m f=-1u', /invalid value/],
        ['m f=+1', /invalid value/],
        ['m f=NaN', /invalid value/],
        ['m f=yes', /invalid value/],
        ['m f=1e999', /out of range/],
        ['m f=9223372036854775808i', /signed 64-bit range/],
        ['m f=18446744073709551616u', /unsigned 64-bit range/],
        ['m f="open', /no closing quote/],
        ['m f="a"b', /unexpected "b" after the value of field "f"/],
        ['m f=1 12:00', /invalid timestamp: 12:00/],
        ['m f=1 1.5', /invalid timestamp/],
        ['m f=1 9223372036854775808', /timestamp out of the signed 64-bit range/],
        [`m f=${'9'.repeat(100_000)}i`, /signed 64-bit range/],
        [`m f=1 ${'9'.repeat(100_000)}`, /timestamp out of the signed 64-bit range/],
        ['m f=1 1 extra', /unexpected text after the timestamp: extra/],
        ['m\tx f=1', /invalid character U\+0009 in measurement/],
        ['m,t=a\u0001 f=1', /invalid character U\+0001 in tag value/],
        ['m f=1\rg', /unexpected U\+000D/],
      ];
      for (const [text, reason] of cases) assert.match(refused(text), reason, JSON.stringify(text));
    });
  });
});
