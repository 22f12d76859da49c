import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { MeasureInput, MeasurePublisher } from '@mymonit/publisher';
import { formatRowErrors, headerProblems, mapRecord } from './mapping';
import type { Options } from './options';
import type { Progress } from './progress';
import { readInput, type InputItem } from './rows';

function items(options: Options): AsyncGenerator<InputItem> {
  const stream: Readable = options.input === '-' ? process.stdin : createReadStream(options.input);
  return readInput(stream, options.format, { delimiter: options.delimiter });
}

export interface Scan {
  rows: number;
  measures: number;
  /** Lines whose errors were printed. */
  lines: Set<number>;
  /** A header that lacks a column the flags name: nothing can be read. */
  header: string | null;
}

/** Reads every row after `afterLine`, validates it and prints what is wrong; sends nothing. */
export async function scan(options: Options, afterLine: number, print: (line: string) => void): Promise<Scan> {
  const result: Scan = { rows: 0, measures: 0, lines: new Set(), header: null };
  for await (const item of items(options)) {
    if (item.kind === 'header') {
      result.header = headerProblems(item.columns, options.mapping)[0] ?? null;
      if (result.header) return result;
      continue;
    }
    if (item.line <= afterLine) continue;
    result.rows++;
    if (item.kind === 'unreadable') {
      result.lines.add(item.line);
      formatRowErrors(item.line, [{ field: '(row)', message: item.message }]).forEach(print);
      continue;
    }
    const mapped = mapRecord(item.record, options.mapping);
    if (mapped.ok) result.measures += mapped.measures.length;
    else {
      result.lines.add(item.line);
      formatRowErrors(item.line, mapped.errors).forEach(print);
    }
  }
  return result;
}

export interface Sent {
  /** Rows read (sent or skipped). */
  rows: number;
  /** Rows whose measures were confirmed. */
  sentRows: number;
  measures: number;
  skipped: number;
  /** The first bad row, when it stopped the run (no --skip-invalid). */
  stoppedAt: number | null;
  header: string | null;
  /** The last line all of whose measures (and those of every line before) were confirmed. */
  confirmedLine: number;
}

export interface SendContext {
  options: Options;
  publisher: MeasurePublisher;
  afterLine: number;
  /** Bad lines already printed by the validation pass. */
  reported: Set<number>;
  progress: Progress;
  /** After each chunk the broker confirmed: `line` and all before it are stored. */
  confirmed(line: number): Promise<void>;
}

/** Chunks published and not yet confirmed, at most: enough to hide the broker's confirm latency. */
const WINDOW = 8;

interface Chunk {
  done: Promise<void>;
  rows: number;
  sentRows: number;
  measures: number;
  lastLine: number;
}

/**
 * Reads rows after `afterLine`, validates each, and publishes them in chunks
 * of about `batchSize` measures, up to WINDOW chunks at a time. Chunks are
 * committed in file order: `confirmed` runs for a chunk only once the broker
 * has every measure of it and of every chunk before it, so a checkpoint
 * written there never runs ahead of what is stored.
 */
export async function send(context: SendContext): Promise<Sent> {
  const { options, publisher, progress } = context;
  const result: Sent = {
    rows: 0,
    sentRows: 0,
    measures: 0,
    skipped: 0,
    stoppedAt: null,
    header: null,
    confirmedLine: context.afterLine,
  };
  const inFlight: Chunk[] = [];
  let chunk: MeasureInput[] = [];
  let chunkRows = 0;
  let chunkSentRows = 0;
  let lastLine = context.afterLine;

  const commit = async () => {
    const head = inFlight.shift();
    if (!head) return;
    await head.done;
    result.rows += head.rows;
    result.sentRows += head.sentRows;
    result.measures += head.measures;
    result.confirmedLine = head.lastLine;
    await context.confirmed(head.lastLine);
    progress.update(result.rows, result.measures);
  };
  const publishChunk = async () => {
    if (chunkRows === 0) return;
    const done = chunk.length > 0 ? publisher.publish(chunk) : Promise.resolve();
    // Awaited in order by commit(); a later chunk failing first must not be an unhandled rejection.
    done.catch(() => undefined);
    inFlight.push({ done, rows: chunkRows, sentRows: chunkSentRows, measures: chunk.length, lastLine });
    chunk = [];
    chunkRows = 0;
    chunkSentRows = 0;
    // Lets this call put all its measures into the publisher's batches before the next call adds
    // its own, so measures go out in file order (for a key given twice, the later row wins).
    await new Promise((resolve) => setImmediate(resolve));
    while (inFlight.length >= WINDOW) await commit();
  };
  const finish = async () => {
    await publishChunk();
    while (inFlight.length > 0) await commit();
  };

  for await (const item of items(options)) {
    if (item.kind === 'header') {
      result.header = headerProblems(item.columns, options.mapping)[0] ?? null;
      if (result.header) return result;
      continue;
    }
    if (item.line <= context.afterLine) continue;
    const mapped =
      item.kind === 'row'
        ? mapRecord(item.record, options.mapping)
        : { ok: false as const, errors: [{ field: '(row)', message: item.message }] };
    if (!mapped.ok) {
      if (!context.reported.has(item.line)) formatRowErrors(item.line, mapped.errors).forEach((l) => progress.log(l));
      if (!options.skipInvalid) {
        await finish();
        result.stoppedAt = item.line;
        return result;
      }
      result.skipped++;
      chunkRows++;
      lastLine = item.line;
      continue;
    }
    chunk.push(...mapped.measures);
    chunkRows++;
    chunkSentRows++;
    lastLine = item.line;
    if (chunk.length >= options.batchSize) await publishChunk();
  }
  await finish();
  return result;
}
