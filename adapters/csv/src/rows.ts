import { createInterface } from 'node:readline';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { parse, type CsvError, type Info } from 'csv-parse';
import type { RowRecord } from './mapping';

/**
 * What reading an input gives, in file order: the CSV header (once, before
 * any row), rows with the 1-based line they start on, and rows that could not
 * be read (bad JSON, a CSV record with the wrong number of fields).
 */
export type InputItem =
  | { kind: 'header'; columns: string[] }
  | { kind: 'row'; line: number; record: RowRecord }
  | { kind: 'unreadable'; line: number; message: string };

export interface CsvOptions {
  delimiter: string;
}

const LINE_BREAK = /\r\n|\r|\n/g;

/** Reads CSV with a header line; the header is line 1, so the first row is line 2. */
export async function* readCsv(input: Readable, options: CsvOptions): AsyncGenerator<InputItem> {
  let header: string[] | null = null;
  const unreadable: { line: number; message: string }[] = [];
  const parser = input.pipe(new CrlfToLf()).pipe(
    parse({
      delimiter: options.delimiter,
      bom: true,
      trim: true,
      skip_empty_lines: true,
      info: true,
      columns: (columns: string[]) => (header = columns.map((c) => String(c))),
      skip_records_with_error: true,
      on_skip: (error: CsvError | undefined) => {
        if (error) unreadable.push({ line: errorLine(error), message: error.message });
        return undefined;
      },
    }),
  );
  input.on('error', (error) => parser.destroy(error));
  let headerSent = false;
  try {
    for await (const item of parser as AsyncIterable<{ record: Record<string, string>; info: Info }>) {
      if (!headerSent && header) {
        headerSent = true;
        yield { kind: 'header', columns: header };
      }
      const line = startLine(item.record, item.info.lines);
      // on_skip runs while parsing, ahead of the consumer: its errors of earlier lines come first.
      while (unreadable.length > 0 && unreadable[0].line < line) yield { kind: 'unreadable', ...unreadable.shift()! };
      yield { kind: 'row', line, record: item.record };
    }
    if (!headerSent && header) yield { kind: 'header', columns: header };
    for (const error of unreadable) yield { kind: 'unreadable', ...error };
  } finally {
    // A consumer that stops early (a bad header, a bad row) must not leave the input open.
    input.destroy();
  }
}

const CR = 0x0d;
const LF = 0x0a;

/**
 * Turns CRLF into LF. csv-parse counts a CRLF inside a quoted field as two
 * lines, which would shift every later line number; with LF only it counts
 * right, and a file may then mix both line endings.
 */
export class CrlfToLf extends Transform {
  private pendingCr = false;

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback): void {
    let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.pendingCr) {
      data = Buffer.concat([Buffer.of(CR), data]);
      this.pendingCr = false;
    }
    // A CR at the end of a chunk may be the first half of a CRLF split across chunks.
    if (data.length > 0 && data[data.length - 1] === CR) {
      this.pendingCr = true;
      data = data.subarray(0, -1);
    }
    const parts: Buffer[] = [];
    let from = 0;
    for (let at = data.indexOf(CR); at >= 0; at = data.indexOf(CR, at + 1)) {
      if (data[at + 1] !== LF) continue;
      parts.push(data.subarray(from, at));
      from = at + 1;
    }
    parts.push(data.subarray(from));
    callback(null, parts.length === 1 ? data : Buffer.concat(parts));
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.pendingCr ? Buffer.of(CR) : undefined);
  }
}

/** csv-parse counts the line a record ends on; a quoted field with line breaks started earlier. */
function startLine(record: Record<string, string>, endLine: number): number {
  let breaks = 0;
  for (const cell of Object.values(record)) breaks += cell.match(LINE_BREAK)?.length ?? 0;
  return endLine - breaks;
}

function errorLine(error: CsvError): number {
  const lines = (error as CsvError & { lines?: unknown }).lines;
  return typeof lines === 'number' ? lines : 0;
}

/** Reads JSON Lines: one object per line; blank lines are skipped but counted. */
export async function* readJsonLines(input: Readable): AsyncGenerator<InputItem> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  input.on('error', (error) => lines.emit('error', error));
  let line = 0;
  try {
    for await (const text of lines) {
      line++;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        yield { kind: 'unreadable', line, message: `not valid JSON: ${(error as Error).message}` };
        continue;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        yield { kind: 'unreadable', line, message: 'not a JSON object' };
        continue;
      }
      yield { kind: 'row', line, record: value as RowRecord };
    }
  } finally {
    lines.close();
    input.destroy();
  }
}

export function readInput(input: Readable, format: 'csv' | 'jsonl', options: CsvOptions): AsyncGenerator<InputItem> {
  return format === 'csv' ? readCsv(input, options) : readJsonLines(input);
}
