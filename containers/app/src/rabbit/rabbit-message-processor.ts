import { isUtf8 } from 'node:buffer';
import { inject, injectable } from 'tsyringe';
import { backOff } from 'exponential-backoff';
import type { Measure } from '../model/measure';
import { MAX_MESSAGE_BYTES, formatPath, parseMeasureMessage } from '../model/measure-message';
import { Logging, type Log } from '../logging/logging';
import { Metrics } from '../metrics/metrics';
import { MeasureRepository } from '../storage/measure.repository';
import { isCausedByData, isDatabaseUnreachable } from '../storage/storage-connector';

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

/** How a refusal is named in logs and metrics: the driver's code (a bounded set of names). */
const refusalOf = (error: unknown) => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown';
};

/**
 * A server's refusal as said in a dead-letter: its message, error number and
 * SQLSTATE. Not the driver's code name, which follows MySQL's numbering: for
 * MariaDB's own errors it names another error (4025, a failed check
 * constraint, comes out as ER_INNODB_AUTOEXTEND_SIZE_OUT_OF_RANGE).
 */
function serverError(error: unknown): string {
  const e = error as { code?: unknown; errno?: unknown; sqlState?: unknown; message?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (typeof e?.errno === 'number' && typeof e.sqlState === 'string') return `${message} (error ${e.errno}, SQLSTATE ${e.sqlState})`;
  return typeof e?.code === 'string' ? `${message} (${e.code})` : message;
}

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
        outcomes[valid[0].index] = await this.storageRefusal(valid[0], error);
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

  /** Why MySQL refused a message, naming the measure at fault in an array (found by halves, nothing stored). */
  private async storageRefusal({ measures, isArray }: Decoded, error: unknown): Promise<Outcome> {
    const culprit = !isArray ? null : measures.length === 1 ? { index: 0, error } : await this.measures.refusedMeasure(measures).catch(() => null);
    const what = culprit ? `${formatPath('', [culprit.index])}: storage refused the measure` : 'storage refused the message';
    return { stored: false, kind: 'storage_refused', reason: clip(`${what}: ${serverError(culprit?.error ?? error)}`) };
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
