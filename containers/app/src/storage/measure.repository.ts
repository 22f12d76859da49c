import { inject, injectable } from 'tsyringe';
import { Readable } from 'node:stream';
import type { Connection as CoreConnection } from 'mysql2';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type {
  Measure,
  MeasurePageQuery,
  MeasureRange,
  SensorStats,
  SortOrder,
  SummaryBucket,
} from '../model/measure';
import { CONFIG, type AppConfig } from '../config';
import { Logging, type Log } from '../logging/logging';
import { StorageConnector, isCausedByData } from './storage-connector';

/** A stored measure as read back, with the sensor's key for keyset pagination. */
export interface StoredMeasure {
  sensorRef: number;
  sensor: string;
  timestamp: number;
  value: number;
  unit: string | null;
  tags: Record<string, string> | null;
}

/** Why a message was refused: the first of its measures that names no existing experiment. */
export interface UnknownExperiment {
  measureIndex: number;
  experimentId: string;
}

/** A measure ready to be written: its experiment already resolved to the internal key. */
export interface MeasureRecord {
  experimentRef: number;
  sensor: string;
  timestamp: number;
  value: number;
  unit: string | null;
  tags: Record<string, string> | null;
}

/** A measure as a row of its experiment (`refs`: experiment id → key, holding the measure's). */
function recordOf({ experimentId, sensor, timestamp, value, unit, tags }: Measure, refs: Map<string, number>): MeasureRecord {
  return { experimentRef: refs.get(experimentId)!, sensor, timestamp, value, unit, tags };
}

/** A sensor's key in the `sensors` table. */
export interface SensorKey {
  experimentRef: number;
  sensor: string;
  id: number;
}

interface MeasureRow extends RowDataPacket {
  ts: number;
  sensor_ref: number;
  value: number;
  unit: string | null;
  tags: string | Record<string, string> | null;
}

/** Counts and BIGINT expressions may come back as strings: read through Number(). */
interface SummaryRow extends RowDataPacket {
  sensor_ref: number;
  bucket: number | string;
  n: number | string;
  total: number;
  mn: number;
  mx: number;
  t0: number | string;
  t1: number | string;
  first: number;
  last: number;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * A table of rollups: count/sum/min/max/first/last of one sensor over one unit
 * of time (unit = FLOOR(ts / unitMs)), with the table of the units whose
 * rollups are stale. Hours are computed from the measures, days from hours.
 */
interface RollupLevel {
  table: string;
  staleTable: string;
  column: string;
  unitMs: number;
}
const HOURS: RollupLevel = { table: 'measure_hours', staleTable: 'measure_hours_stale', column: 'hour', unitMs: HOUR };
const DAYS: RollupLevel = { table: 'measure_days', staleTable: 'measure_days_stale', column: 'day', unitMs: DAY };
/** Finest first: each level is computed from the one before it (the first from the measures) and marks the one after it stale. */
const LEVELS: readonly RollupLevel[] = [HOURS, DAYS];
const finerThan = (level: RollupLevel): RollupLevel | null => LEVELS[LEVELS.indexOf(level) - 1] ?? null;
const coarserThan = (level: RollupLevel): RollupLevel | null => LEVELS[LEVELS.indexOf(level) + 1] ?? null;

/** Where a summary reads one stretch of its range: a rollup table, or (null) the measures. */
export interface RangeSegment {
  level: RollupLevel | null;
  from: number;
  to: number;
}

/**
 * Splits [from, to) into stretches read from the coarsest rollups that cover
 * them whole (`levels`, coarsest first), the edges left to the finer ones and
 * the raw measures: a quarter from 09:17 reads its whole days from the days,
 * the hours of its first and last day from the hours, and the minutes before
 * 10:00 from the measures.
 */
export function splitRange(from: number, to: number, levels: RollupLevel[]): RangeSegment[] {
  if (from >= to) return [];
  const [level, ...finer] = levels;
  if (!level) return [{ level: null, from, to }];
  const start = Math.ceil(from / level.unitMs) * level.unitMs;
  const end = Math.floor(to / level.unitMs) * level.unitMs;
  if (start >= end) return splitRange(from, to, finer);
  return [...splitRange(from, start, finer), { level, from: start, to: end }, ...splitRange(end, to, finer)];
}

/** The pool, or a transaction's connection (a refresh reads within its transaction). */
type Queryable = Pick<Pool, 'query' | 'execute'> | Pick<PoolConnection, 'query' | 'execute'>;

/** Measures per chunk of an export stream. */
const STREAM_BATCH_ROWS = 500;

/**
 * Characters of SQL per write statement, and per packet (statements sent
 * together), at most: a packet must fit the server's max_allowed_packet
 * (16 MiB on MariaDB, 64 MiB on MySQL 8 by default; read with each batch,
 * and the sizes cut to fit a lower one, see `sqlSizesFor`), and a character
 * of a JavaScript string is at most 3 bytes of UTF-8. A batch of small
 * measures is one packet; a message of heavily tagged measures, escaped
 * twice (JSON, then SQL), is several, in the same transaction.
 */
const MAX_STATEMENT_CHARS = 1 << 20;
const MAX_PACKET_CHARS = 4 << 20;

/** Characters of SQL per statement and per packet. */
export interface SqlSizes {
  statementChars: number;
  packetChars: number;
}

/**
 * The sizes that fit a connection whose max_allowed_packet is `maxPacket`
 * bytes, whatever the characters (3 bytes of UTF-8 at most each), with room
 * for the one row a statement may run over by: a server set lower than the
 * defaults gets smaller packets, not a valid message refused as too large.
 */
export function sqlSizesFor(maxPacket: number): SqlSizes {
  const fit = Math.max(16 * 1024, Math.floor((maxPacket - 64 * 1024) / 3));
  return { statementChars: Math.min(MAX_STATEMENT_CHARS, fit), packetChars: Math.min(MAX_PACKET_CHARS, fit) };
}

/** `statements` joined into as few packets as hold at most `max` characters each (a longer statement alone). */
export function packets(statements: string[], max = MAX_PACKET_CHARS): string[] {
  const out: string[] = [];
  let current: string[] = [];
  let length = 0;
  for (const statement of statements) {
    if (current.length > 0 && length + statement.length > max) {
      out.push(current.join(';\n'));
      current = [];
      length = 0;
    }
    current.push(statement);
    length += statement.length + 2;
  }
  if (current.length > 0) out.push(current.join(';\n'));
  return out;
}

/** A bucket's aggregates over part of its range, for one sensor (by key): parts merge into the bucket. */
export interface PartialBucket {
  sensorRef: number;
  bucket: number;
  count: number;
  total: number;
  min: number;
  max: number;
  firstTs: number;
  first: number;
  lastTs: number;
  last: number;
}

const partialOf = (r: SummaryRow): PartialBucket => ({
  sensorRef: Number(r.sensor_ref),
  bucket: Number(r.bucket),
  count: Number(r.n),
  total: Number(r.total),
  min: r.mn,
  max: r.mx,
  firstTs: Number(r.t0),
  first: r.first,
  lastTs: Number(r.t1),
  last: r.last,
});

/** Merges the parts of each bucket, ordered by sensor name then bucket. */
function finish(parts: PartialBucket[], names: Map<number, string>): SummaryBucket[] {
  // sensor → bucket start → the bucket so far (no composite string keys: a week of
  // hourly buckets of 50 sensors is thousands of parts).
  const bySensor = new Map<string, Map<number, PartialBucket>>();
  for (const p of parts) {
    const sensor = names.get(p.sensorRef)!;
    let buckets = bySensor.get(sensor);
    if (!buckets) bySensor.set(sensor, (buckets = new Map<number, PartialBucket>()));
    const m = buckets.get(p.bucket);
    if (!m) {
      // The parts are this summary's own (fresh from the rows): the first of a bucket becomes the bucket.
      buckets.set(p.bucket, p);
      continue;
    }
    m.count += p.count;
    m.total += p.total;
    if (p.min < m.min) m.min = p.min;
    if (p.max > m.max) m.max = p.max;
    if (p.firstTs < m.firstTs) {
      m.firstTs = p.firstTs;
      m.first = p.first;
    }
    if (p.lastTs > m.lastTs) {
      m.lastTs = p.lastTs;
      m.last = p.last;
    }
  }
  const out: SummaryBucket[] = [];
  for (const sensor of [...bySensor.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const buckets = [...bySensor.get(sensor)!.values()].sort((a, b) => a.bucket - b.bucket);
    for (const b of buckets) {
      out.push({ sensor, bucket: b.bucket, count: b.count, min: b.min, max: b.max, avg: b.total / b.count, first: b.first, last: b.last });
    }
  }
  return out;
}

interface SensorStatsRow extends RowDataPacket {
  sensor: string;
  n: number | string;
  first_ts: number | string | null;
  last_ts: number | string | null;
  last_value: number | null;
  unit: string | null;
}

/** MariaDB returns JSON columns as text, MySQL 8 as parsed objects. */
const parseTags = (tags: MeasureRow['tags']) =>
  tags == null ? null : typeof tags === 'string' ? (JSON.parse(tags) as Record<string, string>) : tags;

const toStoredMeasure = (row: MeasureRow, sensor: string): StoredMeasure => ({
  sensorRef: row.sensor_ref,
  sensor,
  timestamp: Number(row.ts),
  value: row.value,
  unit: row.unit,
  tags: parseTags(row.tags),
});

/**
 * SQL for ⌊expr / divisor⌋ of an integer expression, exact on MariaDB and
 * MySQL. Not FLOOR(expr / divisor): MySQL divides integers into a DECIMAL
 * rounded to 4 places (div_precision_increment), so FLOOR(1767743999990 /
 * 172800000) is 10230 there, not 10229, and the last moments of a bucket fell
 * into the next one. DIV truncates toward zero; below zero a remainder takes
 * one off. `nonNegative`: the caller knows expr ≥ 0, DIV alone is enough.
 */
export function floorDiv(expr: string, divisor: number, nonNegative = false): string {
  if (!Number.isSafeInteger(divisor) || divisor <= 0) throw new Error(`not a positive whole divisor: ${divisor}`);
  return nonNegative ? `${expr} DIV ${divisor}` : `(${expr} DIV ${divisor} - (${expr} % ${divisor} < 0))`;
}

/** WHERE clause shared by every measure read of one experiment. */
function rangeFilter(experimentRef: number, range: MeasureRange, sensorRefs: number[] | null) {
  const clauses = ['m.experiment_ref = ?'];
  const params: (number | string)[] = [experimentRef];
  if (range.from !== undefined) {
    clauses.push('m.ts >= ?');
    params.push(range.from);
  }
  if (range.to !== undefined) {
    clauses.push('m.ts < ?');
    params.push(range.to);
  }
  if (sensorRefs) {
    clauses.push(`m.sensor_ref IN (${sensorRefs.map(() => '?').join(', ')})`);
    params.push(...sensorRefs);
  }
  return { where: clauses.join(' AND '), params };
}

const orderBy = (order: SortOrder) =>
  order === 'asc' ? 'm.ts ASC, m.sensor_ref ASC' : 'm.ts DESC, m.sensor_ref DESC';

/**
 * Measures alone, read in primary-key order: (experiment, ts, sensor) rows
 * come out already sorted. Sensor names come from the repository's map of
 * them, not from a join: joining every row to its sensor cost MariaDB 2.04
 * against 1.25 ms for a 1,000-row page, 0.45 against 0.31 ms for 100 rows.
 */
export const SELECT_MEASURES = `SELECT m.ts, m.sensor_ref, m.value, m.unit, m.tags FROM measures m`;

/** The SELECT of one page of measures (exported so benchmarks run the very same SQL). */
export function pageStatement(experimentRef: number, query: MeasurePageQuery, sensorRefs: number[] | null) {
  const { where, params } = rangeFilter(experimentRef, query, sensorRefs);
  let keyset = '';
  if (query.after) {
    const op = query.order === 'asc' ? '>' : '<';
    keyset = ` AND (m.ts ${op} ? OR (m.ts = ? AND m.sensor_ref ${op} ?))`;
    params.push(query.after.timestamp, query.after.timestamp, query.after.sensorRef);
  }
  return {
    sql: `${SELECT_MEASURES} WHERE ${where}${keyset} ORDER BY ${orderBy(query.order)} LIMIT ?`,
    // As a string: MySQL 8 refuses a LIMIT placeholder bound as a double, which is how the driver sends numbers.
    params: [...params, String(query.limit)],
  };
}

/** The SELECT of every measure of a range (an export), in time order. */
export function exportStatement(experimentRef: number, range: MeasureRange, order: SortOrder, sensorRefs: number[] | null) {
  const { where, params } = rangeFilter(experimentRef, range, sensorRefs);
  return { sql: `${SELECT_MEASURES} WHERE ${where} ORDER BY ${orderBy(order)}`, params };
}

/** How long ending a timed-out batch's session on the server may take (a fresh connection, then `KILL`). */
const KILL_TIMEOUT_MS = 5_000;

/**
 * One VALUES tuple of a measure. Numbers are checked (integers, finite) and
 * written as literals; text goes through the driver's escaping. At tens of
 * thousands of rows a second the driver's placeholder formatting costs more
 * CPU than this, for the same result.
 */
function valuesTuple(r: MeasureRecord, sensorRef: number | undefined, escape: (text: string) => string): string {
  if (
    !Number.isSafeInteger(r.experimentRef) ||
    !Number.isSafeInteger(r.timestamp) ||
    !Number.isSafeInteger(sensorRef) ||
    !Number.isFinite(r.value)
  ) {
    throw new Error(`refusing to write a measure with a non-numeric key or value (sensor ${r.sensor})`);
  }
  const unit = r.unit === null ? 'NULL' : escape(r.unit);
  const tags = r.tags === null ? 'NULL' : escape(JSON.stringify(r.tags));
  return `(${r.experimentRef},${r.timestamp},${sensorRef},${r.value},${unit},${tags})`;
}

/** Sensors and their measures. */
@injectable()
export class MeasureRepository {
  /** Experiment key → sensor name → sensor key; sensors are never renamed, so this never goes stale. */
  private readonly sensorKeys = new Map<number, Map<string, number>>();
  /**
   * Sensor key → name, for the measures read: sensors are never renamed and
   * their keys never reused (AUTO_INCREMENT), so an entry never goes stale.
   * One entry per sensor ever read (a hundred bytes each).
   */
  private readonly sensorNames = new Map<number, string>();

  private readonly log: Log;

  constructor(
    @inject(StorageConnector) private readonly storage: StorageConnector,
    @inject(CONFIG) private readonly config: AppConfig,
    @inject(Logging) logging: Logging,
  ) {
    this.log = logging.logger('ingest');
  }

  /**
   * The keys of the named sensors of an experiment; `null` when no filter is
   * asked, an empty list when none of the names exist.
   */
  async sensorRefs(experimentRef: number, names: string[] | undefined): Promise<number[] | null> {
    if (!names || names.length === 0) return null;
    const [rows] = await this.storage.pool.query<RowDataPacket[]>(
      'SELECT id FROM sensors WHERE experiment_ref = ? AND sensor IN (?)',
      [experimentRef, names],
    );
    return rows.map((r) => Number(r.id));
  }

  async page(experimentRef: number, query: MeasurePageQuery): Promise<StoredMeasure[]> {
    const sensorRefs = await this.sensorRefs(experimentRef, query.sensors);
    if (sensorRefs?.length === 0) return [];
    const { sql, params } = pageStatement(experimentRef, query, sensorRefs);
    // Prepared (binary protocol): the server skips parsing, the driver reads doubles without parseFloat.
    const [rows] = await this.storage.pool.execute<MeasureRow[]>(sql, params);
    const names = await this.namesOf(rows.map((row) => row.sensor_ref));
    return rows.map((row) => toStoredMeasure(row, names.get(row.sensor_ref)!));
  }

  /**
   * The names of the sensors `refs`, each looked up once (then kept). Read
   * after the rows that name them, so every sensor is committed; only an
   * experiment deleted in between leaves one missing, and that is an error.
   */
  private async namesOf(refs: Iterable<number>): Promise<Map<number, string>> {
    const missing = new Set<number>();
    for (const ref of refs) if (!this.sensorNames.has(ref)) missing.add(ref);
    if (missing.size === 0) return this.sensorNames;
    const [found] = await this.storage.pool.query<RowDataPacket[]>('SELECT id, sensor FROM sensors WHERE id IN (?)', [[...missing]]);
    for (const row of found) this.sensorNames.set(Number(row.id), row.sensor as string);
    const gone = [...missing].filter((id) => !this.sensorNames.has(id));
    if (gone.length > 0) throw new Error(`the sensors ${gone.join(', ')} of the measures read no longer exist`);
    return this.sensorNames;
  }

  /**
   * Every measure of the range, as a stream of batches (arrays of up to
   * STREAM_BATCH_ROWS measures) read on a connection of its own, in one
   * read-only transaction: the experiment's sensors are read first, in the same
   * snapshot as the measures, so every measure's sensor is known. The
   * connection is paused while the consumer holds a few batches unread, so
   * memory stays flat; a consumer that stops early (client gone) gets the
   * connection destroyed rather than returned half-read to the pool.
   * Batches, not single rows: each hop of a stream costs per chunk, and a
   * million rows make a million chunks.
   */
  async stream(experimentRef: number, range: MeasureRange, order: SortOrder): Promise<Readable> {
    const sensorRefs = await this.sensorRefs(experimentRef, range.sensors);
    const { sql, params } = exportStatement(experimentRef, range, order, sensorRefs?.length === 0 ? [0] : sensorRefs);
    const connection = await this.storage.pool.getConnection();
    const names = new Map<number, string>();
    try {
      await connection.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      await connection.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
      const [sensors] = await connection.query<RowDataPacket[]>('SELECT id, sensor FROM sensors WHERE experiment_ref = ?', [experimentRef]);
      for (const row of sensors) names.set(Number(row.id), row.sensor as string);
    } catch (error) {
      connection.destroy();
      throw error;
    }
    // The promise wrapper's typings hide it, but `.connection` is the core (event-emitting) connection.
    const core = connection.connection as unknown as CoreConnection;
    let batch: StoredMeasure[] = [];
    let complete = false;
    const batches = new Readable({
      objectMode: true,
      highWaterMark: 4,
      read: () => core.resume(),
      destroy: (error, done) => {
        if (!complete) connection.destroy();
        else connection.query('COMMIT').then(() => connection.release(), () => connection.destroy());
        done(error);
      },
    });
    core
      .query(sql, params)
      .on('result', (row) => {
        if (batches.destroyed) return;
        const measure = row as MeasureRow;
        const sensor = names.get(measure.sensor_ref);
        if (sensor === undefined) {
          batches.destroy(new Error(`sensor ${measure.sensor_ref} of a measure is not in the export's snapshot`));
          return;
        }
        batch.push(toStoredMeasure(measure, sensor));
        if (batch.length < STREAM_BATCH_ROWS) return;
        const more = batches.push(batch);
        batch = [];
        if (!more) core.pause();
      })
      .on('error', (error: Error) => batches.destroy(error))
      .on('end', () => {
        complete = true;
        if (batches.destroyed) return;
        if (batch.length > 0) batches.push(batch);
        batches.push(null);
      });
    return batches;
  }

  /** First and last timestamp of an experiment's measures (primary-key lookups). */
  async timeSpan(experimentRef: number): Promise<{ first: number; last: number } | null> {
    const [rows] = await this.storage.pool.execute<RowDataPacket[]>(
      'SELECT MIN(ts) AS first, MAX(ts) AS last FROM measures WHERE experiment_ref = ?',
      [experimentRef],
    );
    const row = rows[0];
    return row?.first == null ? null : { first: Number(row.first), last: Number(row.last) };
  }

  /**
   * count/min/max/avg/first/last per sensor and bucket of `bucketMs`, aligned
   * on the epoch. Buckets of whole days read the whole days of the range from
   * the daily rollups, buckets of whole hours the whole hours from the hourly
   * ones (stale rollups recomputed first); what is left at the edges comes
   * from the finer rollups and the raw measures. Other buckets: raw measures.
   */
  async summary(experimentRef: number, range: MeasureRange, bucketMs: number): Promise<SummaryBucket[]> {
    const sensorRefs = await this.sensorRefs(experimentRef, range.sensors);
    if (sensorRefs?.length === 0) return [];
    const { from, to } = range;
    if (from === undefined || to === undefined) return this.rawSummary(experimentRef, range, bucketMs, sensorRefs);
    // A bucket of whole days is also one of whole hours: the usable levels are the finest ones.
    const usable = LEVELS.filter((level) => bucketMs % level.unitMs === 0);
    const segments = splitRange(from, to, [...usable].reverse());
    // Finest first, each over every segment read at its level or a coarser one: a day is made of hours.
    for (const [i, level] of usable.entries()) {
      const covered = segments.filter((segment) => segment.level && usable.indexOf(segment.level) >= i);
      if (covered.length === 0) continue;
      await this.refreshStale(experimentRef, level, covered[0].from / level.unitMs, covered.at(-1)!.to / level.unitMs);
    }
    const parts = await Promise.all(
      segments.map(({ level, from, to }) =>
        level
          ? this.rollupParts(experimentRef, level, from / level.unitMs, to / level.unitMs, bucketMs, sensorRefs)
          : this.rawParts(experimentRef, { from, to }, bucketMs, sensorRefs),
      ),
    );
    const all = parts.flat();
    return finish(all, await this.namesOf(all.map((p) => p.sensorRef)));
  }

  /** The summary computed from the raw measures alone (rollups left aside). */
  async rawSummary(experimentRef: number, range: MeasureRange, bucketMs: number, sensorRefs: number[] | null): Promise<SummaryBucket[]> {
    const parts = await this.rawParts(experimentRef, range, bucketMs, sensorRefs);
    return finish(parts, await this.namesOf(parts.map((p) => p.sensorRef)));
  }

  /** Partial aggregates per sensor and bucket of the raw measures of a range. */
  private async rawParts(
    experimentRef: number,
    range: MeasureRange,
    bucketMs: number,
    sensorRefs: number[] | null,
    on: Queryable = this.storage.pool,
  ): Promise<PartialBucket[]> {
    const { where, params } = rangeFilter(experimentRef, range, sensorRefs);
    // bucketMs is written into the SQL: floorDiv refuses anything but a positive whole number.
    const bucketOf = floorDiv('m.ts', bucketMs, range.from !== undefined && range.from >= 0);
    // first/last are the values at the bucket's MIN(ts)/MAX(ts), read back by primary key.
    const [rows] = await on.query<SummaryRow[]>(
      `WITH agg AS (
         SELECT m.sensor_ref, ${bucketOf} AS b, COUNT(*) AS n, SUM(m.value) AS total, MIN(m.value) AS mn,
                MAX(m.value) AS mx, MIN(m.ts) AS t0, MAX(m.ts) AS t1
         FROM measures m WHERE ${where}
         GROUP BY m.sensor_ref, b
       )
       SELECT agg.sensor_ref, agg.b * ${bucketMs} AS bucket, agg.n, agg.total, agg.mn, agg.mx, agg.t0, agg.t1,
              f.value AS first, l.value AS last
       FROM agg
       JOIN measures f ON f.experiment_ref = ? AND f.ts = agg.t0 AND f.sensor_ref = agg.sensor_ref
       JOIN measures l ON l.experiment_ref = ? AND l.ts = agg.t1 AND l.sensor_ref = agg.sensor_ref`,
      [...params, experimentRef, experimentRef],
    );
    return rows.map(partialOf);
  }

  /** Partial aggregates per sensor and bucket of the units [firstUnit, endUnit) of a rollup table. */
  private async rollupParts(
    experimentRef: number,
    level: RollupLevel,
    firstUnit: number,
    endUnit: number,
    bucketMs: number,
    sensorRefs: number[] | null,
    on: Queryable = this.storage.pool,
  ): Promise<PartialBucket[]> {
    const { table, column: unit, unitMs } = level;
    const sensors = sensorRefs ? `AND h.sensor_ref IN (${sensorRefs.map(() => '?').join(', ')})` : '';
    if (bucketMs === unitMs) {
      // One rollup row is one bucket: nothing to group or look up.
      // execute: the binary protocol decodes thousands of numeric rows several times faster.
      const [rows] = await on.execute<SummaryRow[]>(
        `SELECT h.sensor_ref, h.${unit} * ${unitMs} AS bucket, h.n, h.total, h.mn, h.mx,
                h.first_ts AS t0, h.last_ts AS t1, h.\`first_value\` AS first, h.\`last_value\` AS last
         FROM ${table} h
         WHERE h.experiment_ref = ? AND h.${unit} >= ? AND h.${unit} < ? ${sensors}`,
        [experimentRef, firstUnit, endUnit, ...(sensorRefs ?? [])],
      );
      return rows.map(partialOf);
    }
    // Whole-number division (floorDiv), written into the SQL, not bound: the driver binds
    // numbers as doubles, and DIV would then divide as DECIMAL. From 1970 on (no negative
    // unit in range) DIV alone: grouping a quarter's hourly rows by day measured 20 % faster
    // than FLOOR over the doubles of a division. Only whole multiples of the unit reach here;
    // floorDiv keeps anything else out of the SQL text.
    if (!Number.isSafeInteger(bucketMs / unitMs)) throw new Error(`not a whole number of ${unit}s: ${bucketMs} ms`);
    const nonNegative = firstUnit >= 0;
    const bucketOf = floorDiv(`h.${unit}`, bucketMs / unitMs, nonNegative);
    const unitOf = (ts: string) => floorDiv(ts, unitMs, nonNegative);
    const [rows] = await on.execute<SummaryRow[]>(
      `WITH agg AS (
         SELECT h.sensor_ref, ${bucketOf} AS b, SUM(h.n) AS n, SUM(h.total) AS total,
                MIN(h.mn) AS mn, MAX(h.mx) AS mx, MIN(h.first_ts) AS t0, MAX(h.last_ts) AS t1
         FROM ${table} h
         WHERE h.experiment_ref = ? AND h.${unit} >= ? AND h.${unit} < ? ${sensors}
         GROUP BY h.sensor_ref, b
       )
       SELECT agg.sensor_ref, agg.b * ${bucketMs} AS bucket, agg.n, agg.total, agg.mn, agg.mx, agg.t0, agg.t1,
              f.\`first_value\` AS first, l.\`last_value\` AS last
       FROM agg
       JOIN ${table} f ON f.experiment_ref = ? AND f.${unit} = ${unitOf('agg.t0')} AND f.sensor_ref = agg.sensor_ref
       JOIN ${table} l ON l.experiment_ref = ? AND l.${unit} = ${unitOf('agg.t1')} AND l.sensor_ref = agg.sensor_ref`,
      [experimentRef, firstUnit, endUnit, ...(sensorRefs ?? []), experimentRef, experimentRef],
    );
    return rows.map(partialOf);
  }

  /**
   * Recomputes the stale rollups of `level` in [firstUnit, endUnit), in one
   * transaction: the marks are deleted first (waiting for any transaction
   * still holding one), then the source is read, so everything committed
   * before is included; a write committed after re-marks its unit (the mark
   * is absent again) and the next summary recomputes it. A failure rolls the
   * marks back; a deadlock between two refreshes is retried.
   * A level is computed from the finer one (hours from the measures, days
   * from hours) and, in the same transaction, marks its units of the coarser
   * level stale: a day is recomputed from its hours only after they are (a day
   * marked by a writer directly could be recomputed from an hour not yet
   * refreshed, and lose its mark). Runs of consecutive units are read in one
   * range scan.
   */
  private async refreshStale(experimentRef: number, level: RollupLevel, firstUnit: number, endUnit: number): Promise<void> {
    const { table, staleTable, column: unit, unitMs } = level;
    const [stale] = await this.storage.pool.query<RowDataPacket[]>(
      `SELECT ${unit} AS unit, sensor_ref FROM ${staleTable} WHERE experiment_ref = ? AND ${unit} >= ? AND ${unit} < ?`,
      [experimentRef, firstUnit, endUnit],
    );
    if (stale.length === 0) return;
    // Sorted, so that concurrent refreshes lock the marks in one order.
    const marks = stale
      .map((r) => [experimentRef, Number(r.unit), Number(r.sensor_ref)])
      .sort((a, b) => a[1] - b[1] || a[2] - b[2]);
    const units = [...new Set(marks.map((m) => m[1]))];
    const runs: [number, number][] = [];
    for (const u of units) {
      const last = runs.at(-1);
      if (last && u === last[1]) last[1] = u + 1;
      else runs.push([u, u + 1]);
    }
    const wanted = new Set(marks.map((m) => `${m[1]}/${m[2]}`));
    await this.storage.transaction(async (connection) => {
      for (let i = 0; i < marks.length; i += 2_000) {
        await connection.query(`DELETE FROM ${staleTable} WHERE (experiment_ref, ${unit}, sensor_ref) IN (?)`, [
          marks.slice(i, i + 2_000),
        ]);
      }
      for (const [runStart, runEnd] of runs) {
        const from = runStart * unitMs;
        const to = runEnd * unitMs;
        const finer = finerThan(level);
        const parts = finer
          ? await this.rollupParts(experimentRef, finer, from / finer.unitMs, to / finer.unitMs, unitMs, null, connection)
          : await this.rawParts(experimentRef, { from, to }, unitMs, null, connection);
        const fresh = parts
          .map((p): number[] => [experimentRef, p.sensorRef, p.bucket / unitMs, p.count, p.total, p.min, p.max, p.firstTs, p.first, p.lastTs, p.last])
          .filter((row) => wanted.has(`${row[2]}/${row[1]}`));
        for (let i = 0; i < fresh.length; i += 2_000) {
          await connection.query(
            `REPLACE INTO ${table} (experiment_ref, sensor_ref, ${unit}, n, total, mn, mx, first_ts, \`first_value\`, last_ts, \`last_value\`)
             VALUES ?`,
            [fresh.slice(i, i + 2_000)],
          );
        }
      }
      const coarser = coarserThan(level);
      if (coarser) {
        const coarserMarks = new Map<string, number[]>();
        for (const [ref, u, sensorRef] of marks) {
          const c = Math.floor((u * unitMs) / coarser.unitMs);
          coarserMarks.set(`${c}/${sensorRef}`, [ref, c, sensorRef]);
        }
        const rows = [...coarserMarks.values()].sort((a, b) => a[1] - b[1] || a[2] - b[2]);
        for (let i = 0; i < rows.length; i += 2_000) {
          await connection.query(`INSERT IGNORE INTO ${coarser.staleTable} (experiment_ref, ${coarser.column}, sensor_ref) VALUES ?`, [
            rows.slice(i, i + 2_000),
          ]);
        }
      }
    }, { deadlockRetries: 3 });
  }

  async sensors(experimentRef: number): Promise<SensorStats[]> {
    const [rows] = await this.storage.pool.execute<SensorStatsRow[]>(
      `SELECT st.sensor, st.n, st.first_ts, st.last_ts, l.value AS \`last_value\`, l.unit
       FROM (
         SELECT s.id, s.sensor,
                (SELECT COUNT(*) FROM measures m WHERE m.sensor_ref = s.id) AS n,
                (SELECT MIN(ts) FROM measures m WHERE m.sensor_ref = s.id) AS first_ts,
                (SELECT MAX(ts) FROM measures m WHERE m.sensor_ref = s.id) AS last_ts
         FROM sensors s WHERE s.experiment_ref = ?
       ) st
       LEFT JOIN measures l ON l.experiment_ref = ? AND l.ts = st.last_ts AND l.sensor_ref = st.id
       ORDER BY st.sensor`,
      [experimentRef, experimentRef],
    );
    return rows.map((r) => ({
      sensor: r.sensor,
      unit: r.unit ?? null,
      count: Number(r.n),
      firstTimestamp: r.first_ts == null ? null : Number(r.first_ts),
      lastTimestamp: r.last_ts == null ? null : Number(r.last_ts),
      lastValue: r.last_value ?? null,
    }));
  }

  /**
   * Stores the measures of a batch of messages in one transaction, in two
   * round trips when the sensors are known: (1) open it and share-lock the
   * experiments named, so none is deleted under the batch; (2) the measures,
   * the stale marks of their hours and COMMIT, sent together. A message naming
   * an unknown experiment is left out and reported (index → the first
   * measure at fault). All or nothing: on error the transaction rolls back.
   * Each statement has INGEST_WRITE_TIMEOUT_MS: a MySQL gone silent fails the
   * batch (to be retried on a new connection) instead of holding it.
   */
  async storeMessages(messages: Measure[][]): Promise<Map<number, UnknownExperiment>> {
    const ids = new Set<string>();
    for (const measures of messages) for (const m of measures) ids.add(m.experimentId);
    return this.inBatchTransaction(async (connection, timeout) => {
      const { refs, sizes } = await this.begin(connection, [...ids], timeout);
      const refused = new Map<number, UnknownExperiment>();
      const records: MeasureRecord[] = [];
      messages.forEach((measures, index) => {
        const unknown = measures.findIndex((m) => !refs.has(m.experimentId));
        if (unknown >= 0) {
          refused.set(index, { measureIndex: unknown, experimentId: measures[unknown].experimentId });
          return;
        }
        for (const m of measures) records.push(recordOf(m, refs));
      });
      const { created, statements } = await this.writeStatements(connection, records, 1000, timeout, sizes.statementChars);
      for (const packet of packets([...statements, 'COMMIT'], sizes.packetChars)) await connection.query({ sql: packet, timeout });
      // Only now: keys created by a transaction that rolled back must never be cached.
      this.rememberSensorKeys(created);
      return refused;
    });
  }

  /**
   * Which measure of a message MySQL refuses for its content, found by
   * halves inside a transaction that is rolled back: nothing is stored, no
   * sensor created. Null when the message, written alone, is not refused
   * now. For the rare message that passes validation yet not the table (a
   * check constraint a DBA added, say), so that its dead-letter names the
   * measure at fault.
   */
  async refusedMeasure(measures: Measure[]): Promise<{ index: number; error: unknown } | null> {
    return this.inBatchTransaction(async (connection, timeout) => {
      const query = (sql: string) => connection.query({ sql, timeout });
      const { refs, sizes } = await this.begin(connection, [...new Set(measures.map((m) => m.experimentId))], timeout);
      if (measures.some((m) => !refs.has(m.experimentId))) return null; // deleted meanwhile: that is another refusal
      const records = measures.map((m) => recordOf(m, refs));
      const { sensorRefs } = await this.sensorKeysFor(connection, records, timeout);
      /** The refusal of writing records [from, to), undone either way. */
      const refusal = async (from: number, to: number): Promise<unknown> => {
        await query('SAVEPOINT probe');
        try {
          const escape = (text: string) => connection.escape(text);
          const statements = this.measureStatements(records.slice(from, to), sensorRefs.slice(from, to), 1000, sizes.statementChars, escape);
          for (const statement of statements) await query(statement);
        } catch (error) {
          if (!isCausedByData(error)) throw error;
          await query('ROLLBACK TO SAVEPOINT probe');
          return error;
        }
        await query('ROLLBACK TO SAVEPOINT probe');
        return null;
      };
      const find = async () => {
        let error = await refusal(0, records.length);
        if (!error) return null;
        let [from, to] = [0, records.length];
        while (to - from > 1) {
          const middle = (from + to) >> 1;
          const inFirst = await refusal(from, middle);
          if (inFirst) [to, error] = [middle, inFirst];
          else {
            const inSecond = await refusal(middle, to);
            if (!inSecond) return null; // refused whole, by neither half alone: no one measure to name
            [from, error] = [middle, inSecond];
          }
        }
        return { index: from, error };
      };
      const found = await find();
      await query('ROLLBACK');
      return found;
    });
  }

  /**
   * Runs `work` on a connection of the batch pool, in the transaction it
   * opens (begin) and ends. On error the transaction is rolled back; when a
   * statement timed out, the connection is abandoned instead (the retry
   * comes after), lest its session commit later, over a newer write of the
   * same measure.
   */
  private async inBatchTransaction<T>(work: (connection: PoolConnection, timeout: number) => Promise<T>): Promise<T> {
    const connection = await this.storage.batchPool.getConnection();
    const timeout = this.config.ingest.writeTimeoutMs;
    let lost = false;
    try {
      return await work(connection, timeout);
    } catch (error) {
      lost = (error as { code?: unknown }).code === 'PROTOCOL_SEQUENCE_TIMEOUT';
      if (lost) await this.abandon(connection, timeout);
      else await connection.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      if (!lost) connection.release();
    }
  }

  /**
   * Opens a batch's transaction and share-locks the experiments it names, so
   * none is deleted under it, in one round trip: their keys, and the SQL
   * sizes the server takes (its own `max_allowed_packet`).
   */
  private async begin(connection: PoolConnection, experimentIds: string[], timeout: number) {
    const [results] = (await connection.query({
      sql: 'START TRANSACTION; SELECT id, experiment_id, @@max_allowed_packet AS max_packet FROM experiments WHERE experiment_id IN (?) LOCK IN SHARE MODE',
      values: [experimentIds],
      timeout,
    })) as unknown as [[ResultSetHeader, RowDataPacket[]]];
    const refs = new Map(results[1].map((r) => [r.experiment_id as string, Number(r.id)]));
    return { refs, sizes: sqlSizesFor(Number(results[1][0]?.max_packet ?? 16 << 20)) };
  }

  /**
   * A statement that timed out still occupies its connection (a ROLLBACK
   * would queue behind it forever): the connection is dropped, and its
   * session ended on the server, which would otherwise go on waiting for its
   * locks, holding the rows it wrote, and could still commit later.
   */
  private async abandon(connection: PoolConnection, timeout: number): Promise<void> {
    const session = connection.threadId;
    connection.destroy();
    const killed = await this.storage.killSession(session, Math.min(timeout, KILL_TIMEOUT_MS));
    const fields = { event: 'ingest.write_abandoned', session, killed };
    if (killed) this.log.info('a batch write timed out: its session was ended on the server before the retry', fields);
    else this.log.warn('a batch write timed out and its session could not be ended on the server; it ends when the server sees the connection gone', fields);
  }

  /**
   * Writes measures in multi-row statements that upsert on the natural key
   * (last write wins), with the stale marks of their hours, on the caller's
   * connection so it joins its transaction. Returns the sensor keys it
   * created or looked up, for the caller to cache (`rememberSensorKeys`) once
   * the transaction has committed.
   */
  async upsert(connection: PoolConnection, records: MeasureRecord[], rowsPerStatement = 1000): Promise<SensorKey[]> {
    const { created, statements } = await this.writeStatements(connection, records, rowsPerStatement);
    for (const statement of statements) await connection.query(statement);
    return created;
  }

  /** Caches sensor keys that a committed transaction created or looked up. */
  rememberSensorKeys(keys: SensorKey[]): void {
    for (const { experimentRef, sensor, id } of keys) {
      let sensors = this.sensorKeys.get(experimentRef);
      if (!sensors) this.sensorKeys.set(experimentRef, (sensors = new Map<string, number>()));
      sensors.set(sensor, id);
    }
  }

  /**
   * The statements that write `records` (measures, then the stale marks of
   * their hours), once the sensors they name have keys (created here if new,
   * on `connection`); none for no records. `timeout`: each lookup's limit, ms.
   */
  private async writeStatements(
    connection: PoolConnection,
    records: MeasureRecord[],
    rowsPerStatement: number,
    timeout?: number,
    statementChars = MAX_STATEMENT_CHARS,
  ) {
    if (records.length === 0) return { created: [], statements: [] };
    const { sensorRefs, created } = await this.sensorKeysFor(connection, records, timeout);
    const statements = [
      ...this.measureStatements(records, sensorRefs, rowsPerStatement, statementChars, (text) => connection.escape(text)),
      this.staleMarksStatement(records, sensorRefs),
    ];
    return { created, statements };
  }

  /** INSERT … ON DUPLICATE KEY UPDATE statements of `rowsPerStatement` measures each, or fewer when their SQL is long. */
  private measureStatements(
    records: MeasureRecord[],
    sensorRefs: number[],
    rowsPerStatement: number,
    statementChars: number,
    escape: (text: string) => string,
  ): string[] {
    const statements: string[] = [];
    const write = (tuples: string[]) =>
      statements.push(
        `INSERT INTO measures (experiment_ref, ts, sensor_ref, value, unit, tags) VALUES ${tuples.join(',')}
         ON DUPLICATE KEY UPDATE value = VALUES(value), unit = VALUES(unit), tags = VALUES(tags)`,
      );
    let tuples: string[] = [];
    let length = 0;
    records.forEach((record, i) => {
      const tuple = valuesTuple(record, sensorRefs[i], escape);
      tuples.push(tuple);
      length += tuple.length + 1;
      if (tuples.length >= rowsPerStatement || length >= statementChars) {
        write(tuples);
        tuples = [];
        length = 0;
      }
    });
    if (tuples.length > 0) write(tuples);
    return statements;
  }

  /**
   * Marks the hours the records fall in as stale, to be written in the same
   * transaction as the measures: a summary recomputes their rollups before
   * using them. Sorted, so that concurrent writers lock the rows in one order;
   * IGNORE, since an hour already marked needs nothing more (the common case:
   * the current hour). Every value is an integer key.
   */
  private staleMarksStatement(records: MeasureRecord[], sensorRefs: number[]): string {
    // experiment key → hour → sensor keys: numbers all, nothing built per measure
    const marks = new Map<number, Map<number, Set<number>>>();
    records.forEach((r, i) => {
      let hours = marks.get(r.experimentRef);
      if (!hours) marks.set(r.experimentRef, (hours = new Map<number, Set<number>>()));
      const hour = Math.floor(r.timestamp / HOUR);
      let sensors = hours.get(hour);
      if (!sensors) hours.set(hour, (sensors = new Set<number>()));
      sensors.add(sensorRefs[i]);
    });
    const rows: [number, number, number][] = [];
    for (const [experimentRef, hours] of marks) {
      for (const [hour, sensors] of hours) for (const sensorRef of sensors) rows.push([experimentRef, hour, sensorRef]);
    }
    rows.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
    if (!rows.flat().every(Number.isSafeInteger)) throw new Error('refusing a stale mark with a non-integer key');
    return `INSERT IGNORE INTO measure_hours_stale (experiment_ref, hour, sensor_ref) VALUES ${rows.map((r) => `(${r.join(',')})`).join(',')}`;
  }

  /**
   * Each record's sensor key (`sensorRefs[i]` for `records[i]`): from the
   * cache, else looked up or created on `connection` (returned as `created`,
   * for the caller to cache once its transaction has committed).
   */
  private async sensorKeysFor(connection: PoolConnection, records: MeasureRecord[], timeout?: number) {
    const sensorRefs = new Array<number>(records.length);
    const uncached: number[] = [];
    records.forEach((r, i) => {
      const key = this.sensorKeys.get(r.experimentRef)?.get(r.sensor);
      if (key === undefined) uncached.push(i);
      else sensorRefs[i] = key;
    });
    if (uncached.length === 0) return { sensorRefs, created: [] };
    const name = (experimentRef: number, sensor: string) => `${experimentRef}/${sensor}`;
    const missing = new Map<string, [number, string]>();
    for (const i of uncached) missing.set(name(records[i].experimentRef, records[i].sensor), [records[i].experimentRef, records[i].sensor]);
    const pairs = [...missing.values()];
    await connection.query({ sql: 'INSERT IGNORE INTO sensors (experiment_ref, sensor) VALUES ?', values: [pairs], timeout });
    const [rows] = await connection.query<RowDataPacket[]>({
      sql: 'SELECT id, experiment_ref, sensor FROM sensors WHERE (experiment_ref, sensor) IN (?)',
      values: [pairs],
      timeout,
    });
    const created: SensorKey[] = rows.map((row) => ({ experimentRef: Number(row.experiment_ref), sensor: row.sensor as string, id: Number(row.id) }));
    const found = new Map(created.map((k) => [name(k.experimentRef, k.sensor), k.id]));
    for (const i of uncached) sensorRefs[i] = found.get(name(records[i].experimentRef, records[i].sensor))!;
    return { sensorRefs, created };
  }
}
