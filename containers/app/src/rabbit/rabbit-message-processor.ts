import { isUtf8 } from 'node:buffer';
import { inject, injectable } from 'tsyringe';
import { backOff } from 'exponential-backoff';
import type { Measure } from '../model/measure';
import { MAX_MESSAGE_BYTES, formatPath, parseMeasureMessage } from '../model/measure-message';
import { Logging, type Log } from '../logging/logging';
import { Metrics } from '../metrics/metrics';
import { MeasureRepository } from '../storage/measure.repository';
import { isDatabaseUnreachable } from '../storage/storage-connector';

/** What became of one message. */
export type Outcome =
  | { stored: true; measures: Measure[] }
  | { stored: false; reason: string; kind: RejectionKind }
  /** Not settled: the batch was abandoned (shutdown, or its channel is gone); the broker redelivers it. */
  | { stored: null };

/** Why a message was refused, in one word (the `x-mymonit-error` header says it in full). */
export type RejectionKind = 'too_large' | 'invalid_json' | 'invalid_message' | 'unknown_experiment' | 'storage_refused';

const MAX_REASON_LENGTH = 1000;
const NOT_UTF8 = 'not valid JSON: the body is not UTF-8 (text in another encoding, such as Latin-1?)';

/** A message body decoded: its measures, or why it is refused. */
export type DecodedMessage = { measures: Measure[]; isArray: boolean } | { reason: string; kind: RejectionKind };

interface Decoded {
  index: number;
  measures: Measure[];
  isArray: boolean;
}

/**
 * The MySQL errors that a message's own content causes: a value its column
 * cannot hold (SQLSTATE class 22), a constraint it breaks (class 23, and the
 * check constraints MySQL reports as HY000), a statement larger than the server
 * takes. Only these send a message to the dead-letter queue. Every other
 * refusal is the database's state, not the messages': connection lost or
 * refused, deadlock, server read-only after a failover, table missing, disk
 * full, privilege revoked. Those are waited out, since dead-lettering would
 * divert the whole stream.
 */
const CAUSED_BY_DATA = new Set(['ER_CHECK_CONSTRAINT_VIOLATED', 'ER_CONSTRAINT_FAILED', 'ER_NET_PACKET_TOO_LARGE']);

export function isCausedByData(error: unknown): boolean {
  const e = error as { code?: unknown; sqlState?: unknown; fatal?: unknown; message?: unknown } | null;
  if (typeof e?.code === 'string' && CAUSED_BY_DATA.has(e.code)) return true;
  if (typeof e?.sqlState === 'string') return e.sqlState.startsWith('22') || e.sqlState.startsWith('23');
  // No SQLSTATE: the driver's own errors (a connection refused, lost or closed) are the
  // database's state; anything else was thrown while building the statement from the message.
  if (typeof e?.code === 'string' || e?.fatal === true) return false;
  return !/Pool is closed|Connection lost/i.test(typeof e?.message === 'string' ? e.message : '');
}

/** How a refusal is named in logs and metrics: the driver's code (a bounded set of names). */
const refusalOf = (error: unknown) => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown';
};

const clip = (reason: string) => (reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH - 1)}…` : reason);

/**
 * The logic of ingestion (the original's RabbitMessageProcessor), free of AMQP:
 * decode and validate each message, store the valid ones atomically, say why
 * the others were refused. Waits out MySQL outages with back-off; never
 * reports as stored what was not committed.
 */
@injectable()
export class RabbitMessageProcessor {
  private readonly log: Log;

  constructor(
    @inject(MeasureRepository) private readonly measures: MeasureRepository,
    @inject(Logging) logging: Logging,
    @inject(Metrics) private readonly metrics: Metrics,
  ) {
    this.log = logging.logger('ingest');
  }

  /** Decodes one message body; either its measures or why it is refused. */
  decode(body: Buffer): DecodedMessage {
    if (body.length > MAX_MESSAGE_BYTES) {
      return { kind: 'too_large', reason: `message of ${body.length} bytes is larger than ${MAX_MESSAGE_BYTES} (16 MiB)` };
    }
    // Decoding would turn bytes that are not UTF-8 (a Latin-1 "°C") into U+FFFD, silently.
    if (!isUtf8(body)) return { kind: 'invalid_json', reason: NOT_UTF8 };
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (error) {
      return { kind: 'invalid_json', reason: `not valid JSON: ${(error as Error).message}` };
    }
    const parsed = parseMeasureMessage(json);
    if (!parsed.ok) return { kind: 'invalid_message', reason: clip(parsed.errors.map((e) => `${e.field}: ${e.message}`).join('; ')) };
    return { measures: parsed.measures, isArray: Array.isArray(json) };
  }

  /**
   * Settles a batch of decoded messages. `stillWanted` is asked before each
   * retry: when it says no (shutdown, channel lost), the batch is abandoned
   * unsettled.
   */
  async process(messages: DecodedMessage[], stillWanted: () => boolean = () => true): Promise<Outcome[]> {
    const outcomes = new Array<Outcome>(messages.length);
    const valid: Decoded[] = [];
    messages.forEach((decoded, index) => {
      if ('reason' in decoded) outcomes[index] = { stored: false, reason: decoded.reason, kind: decoded.kind };
      else valid.push({ index, ...decoded });
    });
    await this.store(valid, outcomes, stillWanted);
    return outcomes;
  }

  private async store(
    valid: Decoded[],
    outcomes: Outcome[],
    stillWanted: () => boolean,
  ): Promise<void> {
    if (valid.length === 0) return;
    let refused;
    try {
      refused = await this.withRetries(() => this.measures.storeMessages(valid.map((v) => v.measures)), stillWanted);
    } catch (error) {
      if (!isCausedByData(error) || !stillWanted()) {
        for (const v of valid) outcomes[v.index] = { stored: null };
        return;
      }
      if (valid.length === 1) {
        // MySQL refuses this very message for its content: dead-letter it rather than stall the queue.
        const e = error as { code?: string; message?: string };
        outcomes[valid[0].index] = {
          stored: false,
          kind: 'storage_refused',
          reason: clip(`storage refused the message: ${e.code ?? ''} ${e.message ?? ''}`.trim()),
        };
        return;
      }
      // Find the culprit by halves; the innocent messages are stored.
      const half = Math.ceil(valid.length / 2);
      await this.store(valid.slice(0, half), outcomes, stillWanted);
      await this.store(valid.slice(half), outcomes, stillWanted);
      return;
    }
    valid.forEach((v, i) => {
      const unknown = refused.get(i);
      outcomes[v.index] = unknown
        ? {
            stored: false,
            kind: 'unknown_experiment',
            reason: `${formatPath('', v.isArray ? [unknown.measureIndex, 'experiment_id'] : ['experiment_id'])}: unknown experiment ${unknown.experimentId}`,
          }
        : { stored: true, measures: v.measures };
    });
  }

  private withRetries<T>(work: () => Promise<T>, stillWanted: () => boolean): Promise<T> {
    return backOff(work, {
      numOfAttempts: Number.MAX_SAFE_INTEGER,
      startingDelay: 200,
      maxDelay: 5_000,
      timeMultiple: 2,
      jitter: 'full',
      retry: (error: unknown, attempt: number) => {
        if (isCausedByData(error) || !stillWanted()) return false;
        const reason = refusalOf(error);
        this.metrics.ingestStoreRetries.inc({ reason });
        const fields = { event: 'ingest.store_retry', attempt, reason };
        if (isDatabaseUnreachable(error)) this.log.warn('cannot store measures; retrying', fields);
        // Reachable, yet refusing (read-only, table missing, disk full…): someone must act.
        else this.log.error('MySQL refuses to store measures; nothing is acknowledged, retrying', fields);
        return true;
      },
    });
  }
}
