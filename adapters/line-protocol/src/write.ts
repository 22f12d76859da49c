import type { IncomingMessage } from 'node:http';
import type { MeasureInput } from '@mymonit/publisher';
import { readBody } from './body';
import { HttpError } from './http-error';
import { parseLineProtocol, type LineError } from './line-protocol';
import { mapPoints, type MappingOptions } from './mapping';
import { parsePrecision, precisionSpellings, type WriteApi } from './precision';

/** Bad lines named in a 400 answer; the rest are counted. */
const NAMED_ERRORS = 5;

export interface WriteDependencies {
  mapping: MappingOptions;
  maxBodyBytes: number;
  now(): number;
  /** Resolves once the broker confirmed every measure; throws an HttpError otherwise. */
  publish(measures: MeasureInput[]): Promise<void>;
}

export interface WriteOutcome {
  measures: number;
  skippedFields: number;
}

export function describeErrors(errors: LineError[]): string {
  const sorted = [...errors].sort((a, b) => a.line - b.line);
  const named = sorted.slice(0, NAMED_ERRORS).map((e) => `line ${e.line}: ${e.reason}`);
  const more = sorted.length - named.length;
  return more > 0 ? `${named.join('; ')} (and ${more} more bad line${more === 1 ? '' : 's'})` : named.join('; ');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as text; invalid UTF-8 is refused naming the first line that holds it. */
function decode(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    let start = 0;
    for (let line = 1; ; line++) {
      const end = body.indexOf(0x0a, start);
      try {
        utf8.decode(body.subarray(start, end === -1 ? body.length : end));
      } catch {
        throw new HttpError(400, 'invalid', `line ${line}: invalid UTF-8`);
      }
      if (end === -1) throw new HttpError(400, 'invalid', 'the body is not valid UTF-8');
      start = end + 1;
    }
  }
}

/**
 * A write request of either API: every line parsed and mapped, every measure
 * validated, and only then all of them published, or none (400) if one line
 * is bad.
 */
export async function acceptWrite(
  request: IncomingMessage,
  url: URL,
  api: WriteApi,
  dependencies: WriteDependencies,
): Promise<WriteOutcome> {
  const receivedAt = dependencies.now();
  const precision = parsePrecision(api, url.searchParams.get('precision'));
  if (precision === null) {
    throw new HttpError(
      400,
      'invalid',
      `invalid precision "${url.searchParams.get('precision')}": one of ${precisionSpellings(api).join(', ')}`,
    );
  }
  const defaultSource = api === 'v2' ? 'bucket' : 'db';
  const defaultExperiment = url.searchParams.get(defaultSource) ?? undefined;

  const text = decode(await readBody(request, dependencies.maxBodyBytes));
  const parsed = parseLineProtocol(text);
  const mapped = mapPoints(parsed.points, { defaultExperiment, defaultSource, precision, receivedAt }, dependencies.mapping);
  const errors = [...parsed.errors, ...mapped.errors];
  if (errors.length > 0) throw new HttpError(400, 'invalid', describeErrors(errors));
  if (mapped.measures.length > 0) await dependencies.publish(mapped.measures);
  return { measures: mapped.measures.length, skippedFields: mapped.skippedFields };
}
