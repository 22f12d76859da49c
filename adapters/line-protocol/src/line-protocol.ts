/**
 * A parser of InfluxDB line protocol
 * (https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/,
 * grammar: github.com/influxdata/line-protocol, line-protocol.ebnf):
 *
 *   measurement[,tag_key=tag_value...] field_key=field_value[,...] [timestamp]
 *
 * It parses a whole request body and keeps going after a bad line, so that one
 * answer can name every bad line.
 */

export type FieldValue =
  | { kind: 'float'; value: number }
  | { kind: 'integer'; value: bigint }
  | { kind: 'unsigned'; value: bigint }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'string'; value: string };

export interface Field {
  key: string;
  value: FieldValue;
}

export interface Point {
  /** 1-based line of the body the point starts on. */
  line: number;
  measurement: string;
  /** In the order written. */
  tags: [key: string, value: string][];
  fields: Field[];
  /** As written, in the precision of the request; null when the line has none. */
  timestamp: bigint | null;
}

/** A line that could not be used, and why. */
export interface LineError {
  line: number;
  reason: string;
}

export interface ParseResult {
  points: Point[];
  errors: LineError[];
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

const BOOLEANS = new Map<string, boolean>([
  ...['t', 'T', 'true', 'True', 'TRUE'].map((word): [string, boolean] => [word, true]),
  ...['f', 'F', 'false', 'False', 'FALSE'].map((word): [string, boolean] => [word, false]),
]);
const INTEGER = /^-?\d+i$/;
const UNSIGNED = /^\d+u$/;
// Linear time: each repeated part ends at a character (".", "e") the one before cannot take.
// eslint-disable-next-line security/detect-unsafe-regex -- see above
const FLOAT = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
/** Digits of the longest 64-bit integer: longer ones are out of range without parsing (BigInt of a huge string is slow). */
const MAX_DIGITS = 20;
const TIMESTAMP = /^-?\d+$/;

/** What ends a name, and what a backslash may escape in it. */
interface NameSyntax {
  what: string;
  stops: string;
  escapes: string;
}
const MEASUREMENT: NameSyntax = { what: 'measurement', stops: ', ', escapes: ', ' };
const TAG_KEY: NameSyntax = { what: 'tag key', stops: ',= ', escapes: ',= ' };
const TAG_VALUE: NameSyntax = { what: 'tag value', stops: ',= ', escapes: ',= ' };
const FIELD_KEY: NameSyntax = { what: 'field key', stops: ',= ', escapes: ',= ' };

class LineSyntaxError extends Error {}

/** Text echoed in an error, cut so that a huge token does not make a huge answer. */
export function excerpt(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}

function isNonPrintable(char: string): boolean {
  const code = char.charCodeAt(0);
  return code < 0x20 || code === 0x7f;
}

function describe(char: string): string {
  return isNonPrintable(char) ? `U+${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}` : `"${char}"`;
}

class Scanner {
  pos = 0;
  /** Line of the character at `pos`. */
  line = 1;

  constructor(private readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text.charAt(this.pos);
  }

  /** At a line end: LF, CRLF, a CR ending the body, or the end of the body. */
  atEol(): boolean {
    if (this.done) return true;
    const c = this.peek();
    return c === '\n' || (c === '\r' && (this.pos + 1 >= this.text.length || this.text[this.pos + 1] === '\n'));
  }

  consumeEol(): void {
    if (this.peek() === '\r') this.pos++;
    if (this.peek() === '\n') {
      this.pos++;
      this.line++;
    }
  }

  skipSpaces(): void {
    while (this.peek() === ' ') this.pos++;
  }

  /** Recovery after a bad line: everything up to and including the next LF. */
  skipLine(): void {
    const next = this.text.indexOf('\n', this.pos);
    if (next === -1) {
      this.pos = this.text.length;
    } else {
      this.pos = next + 1;
      this.line++;
    }
  }

  /**
   * A measurement, key or tag value, unescaped. A backslash escapes only the
   * characters the element requires escaping; any other backslash is literal
   * (InfluxDB's own decoder does the same), so `C:\temp` arrives as written.
   */
  name(syntax: NameSyntax): string {
    let out = '';
    let run = this.pos;
    while (!this.atEol()) {
      const c = this.peek();
      if (c === '\\' && this.pos + 1 < this.text.length && syntax.escapes.includes(this.text.charAt(this.pos + 1))) {
        out += this.text.slice(run, this.pos) + this.text.charAt(this.pos + 1);
        this.pos += 2;
        run = this.pos;
        continue;
      }
      if (syntax.stops.includes(c)) break;
      if (isNonPrintable(c)) throw new LineSyntaxError(`invalid character ${describe(c)} in ${syntax.what}`);
      this.pos++;
    }
    return out + this.text.slice(run, this.pos);
  }

  /** The rest of the line, for an error message. */
  rest(): string {
    const start = this.pos;
    while (!this.atEol()) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** An unquoted token: a number, boolean or timestamp as written. */
  token(): string {
    const start = this.pos;
    while (!this.done && !',\n\r '.includes(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** A double-quoted string: `\"` and `\\` are escapes, any other backslash is literal; it may span lines. */
  quoted(key: string): string {
    this.pos++;
    let out = '';
    let run = this.pos;
    for (;;) {
      if (this.done) throw new LineSyntaxError(`the string value of field "${excerpt(key)}" has no closing quote`);
      const c = this.peek();
      if (c === '"') {
        out += this.text.slice(run, this.pos);
        this.pos++;
        return out;
      }
      if (c === '\\' && (this.text[this.pos + 1] === '"' || this.text[this.pos + 1] === '\\')) {
        out += this.text.slice(run, this.pos) + this.text.charAt(this.pos + 1);
        this.pos += 2;
        run = this.pos;
        continue;
      }
      if (c === '\n') this.line++;
      this.pos++;
    }
  }
}

function fieldValue(scanner: Scanner, key: string): FieldValue {
  if (scanner.peek() === '"') return { kind: 'string', value: scanner.quoted(key) };
  const raw = scanner.token();
  if (raw === '') throw new LineSyntaxError(`field "${excerpt(key)}" has no value`);
  const boolean = BOOLEANS.get(raw);
  if (boolean !== undefined) return { kind: 'boolean', value: boolean };
  if (INTEGER.test(raw)) {
    const value = raw.length > MAX_DIGITS + 2 ? null : BigInt(raw.slice(0, -1));
    if (value === null || value < INT64_MIN || value > INT64_MAX) {
      throw new LineSyntaxError(`integer value of field "${excerpt(key)}" is out of the signed 64-bit range: ${excerpt(raw)}`);
    }
    return { kind: 'integer', value };
  }
  if (UNSIGNED.test(raw)) {
    const value = raw.length > MAX_DIGITS + 1 ? null : BigInt(raw.slice(0, -1));
    if (value === null || value > UINT64_MAX) {
      throw new LineSyntaxError(`unsigned value of field "${excerpt(key)}" is out of the unsigned 64-bit range: ${excerpt(raw)}`);
    }
    return { kind: 'unsigned', value };
  }
  if (FLOAT.test(raw)) {
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new LineSyntaxError(`float value of field "${excerpt(key)}" is out of range: ${excerpt(raw)}`);
    return { kind: 'float', value };
  }
  throw new LineSyntaxError(`invalid value for field "${excerpt(key)}": ${excerpt(raw)}`);
}

function timestamp(scanner: Scanner): bigint | null {
  if (scanner.atEol()) return null;
  const raw = scanner.token();
  if (!TIMESTAMP.test(raw)) throw new LineSyntaxError(`invalid timestamp: ${excerpt(raw)}`);
  const value = raw.length > MAX_DIGITS + 1 ? null : BigInt(raw);
  if (value === null || value < INT64_MIN || value > INT64_MAX) {
    throw new LineSyntaxError(`timestamp out of the signed 64-bit range: ${excerpt(raw)}`);
  }
  scanner.skipSpaces();
  if (!scanner.atEol()) throw new LineSyntaxError(`unexpected text after the timestamp: ${excerpt(scanner.rest())}`);
  return value;
}

function point(scanner: Scanner, line: number): Point {
  const measurement = scanner.name(MEASUREMENT);
  if (measurement === '') throw new LineSyntaxError(`missing measurement`);

  const tags: [string, string][] = [];
  while (scanner.peek() === ',') {
    scanner.pos++;
    const key = scanner.name(TAG_KEY);
    if (key === '') throw new LineSyntaxError(`missing tag key after ","`);
    if (scanner.peek() !== '=') throw new LineSyntaxError(`tag key "${excerpt(key)}" has no "=" and value`);
    scanner.pos++;
    const value = scanner.name(TAG_VALUE);
    if (value === '') throw new LineSyntaxError(`tag "${excerpt(key)}" has an empty value`);
    if (scanner.peek() === '=') throw new LineSyntaxError(`unescaped "=" in the value of tag "${excerpt(key)}"`);
    if (tags.some(([k]) => k === key)) throw new LineSyntaxError(`duplicate tag "${excerpt(key)}"`);
    tags.push([key, value]);
  }

  if (scanner.atEol()) throw new LineSyntaxError(`missing fields`);
  scanner.skipSpaces();
  if (scanner.atEol()) throw new LineSyntaxError(`missing fields`);

  const fields: Field[] = [];
  for (;;) {
    const key = scanner.name(FIELD_KEY);
    if (key === '') throw new LineSyntaxError(scanner.atEol() ? `missing field after ","` : `missing field key`);
    if (scanner.peek() !== '=') throw new LineSyntaxError(`field key "${excerpt(key)}" has no "=" and value`);
    scanner.pos++;
    fields.push({ key, value: fieldValue(scanner, key) });
    if (scanner.peek() !== ',') break;
    scanner.pos++;
  }

  if (!scanner.atEol()) {
    const last = fields[fields.length - 1].key;
    if (scanner.peek() !== ' ') throw new LineSyntaxError(`unexpected ${describe(scanner.peek())} after the value of field "${excerpt(last)}"`);
    scanner.skipSpaces();
  }
  return { line, measurement, tags, fields, timestamp: timestamp(scanner) };
}

/**
 * Parses a body of line protocol. Blank lines and comments (`#` first) are
 * ignored, lines may end with LF or CRLF, and a bad line is reported with its
 * 1-based number while the other lines are still parsed.
 */
export function parseLineProtocol(text: string): ParseResult {
  const scanner = new Scanner(text);
  const points: Point[] = [];
  const errors: LineError[] = [];
  while (!scanner.done) {
    scanner.skipSpaces();
    if (scanner.atEol()) {
      scanner.consumeEol();
      continue;
    }
    if (scanner.peek() === '#') {
      scanner.skipLine();
      continue;
    }
    const line = scanner.line;
    try {
      points.push(point(scanner, line));
      scanner.consumeEol();
    } catch (error) {
      if (!(error instanceof LineSyntaxError)) throw error;
      errors.push({ line, reason: error.message });
      scanner.skipLine();
    }
  }
  return { points, errors };
}
