import { inject, injectable } from 'tsyringe';
import mysql, { type Pool, type PoolConnection } from 'mysql2/promise';
import { CONFIG, type AppConfig } from '../config';
import { Metrics, type PoolState } from '../metrics/metrics';

/** Connections of the ingestion writer, beside DB_POOL_SIZE: one per batch it writes at once (two). */
export const BATCH_CONNECTIONS = 2;

/** Driver errors that mean MySQL cannot be reached or is going away (not a refusal of the statement). */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
]);

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

/** Whether an error says MySQL is unreachable (an outage), as opposed to refusing what was asked. */
export function isDatabaseUnreachable(error: unknown): boolean {
  const e = error as { code?: unknown; fatal?: unknown } | null;
  return (typeof e?.code === 'string' && UNREACHABLE.has(e.code)) || e?.fatal === true;
}

/** The queues of mysql2's pool (not in its typings; stable across its 3.x releases). */
interface CorePool {
  _allConnections: { length: number };
  _freeConnections: { length: number };
  _connectionQueue: { length: number };
}

function poolState(name: string, pool: Pool): PoolState {
  const core = pool.pool as unknown as CorePool;
  const idle = core._freeConnections.length;
  return { pool: name, inUse: core._allConnections.length - idle, idle, waiting: core._connectionQueue.length };
}

/** The MySQL connection pools: the only way the repositories reach the database. */
@injectable()
export class StorageConnector {
  readonly pool: Pool;
  /**
   * Ingestion's own connections, which may send several statements in one
   * round trip (a batch's measures, stale marks and COMMIT). Kept apart so
   * that no other query can ever run as several statements.
   */
  readonly batchPool: Pool;

  constructor(
    @inject(CONFIG) private readonly config: AppConfig,
    @inject(Metrics) metrics: Metrics,
  ) {
    const options = {
      host: config.db.host,
      port: config.db.port,
      user: config.db.user,
      password: config.db.password,
      database: config.db.database,
      waitForConnections: true,
      queueLimit: 1000,
      connectTimeout: 5_000,
      enableKeepAlive: true,
      timezone: 'Z',
      supportBigNumbers: true,
      charset: 'utf8mb4_bin',
    };
    this.pool = mysql.createPool({ ...options, connectionLimit: config.db.poolSize });
    this.batchPool = mysql.createPool({ ...options, connectionLimit: BATCH_CONNECTIONS, multipleStatements: true });
    metrics.poolStatesSource = () => [poolState('queries', this.pool), poolState('ingestion', this.batchPool)];
  }

  /** A connection without a default database, for creating it. */
  async serverConnection() {
    return mysql.createConnection({
      host: this.config.db.host,
      port: this.config.db.port,
      user: this.config.db.user,
      password: this.config.db.password,
      connectTimeout: 5_000,
      timezone: 'Z',
    });
  }

  /**
   * Ends a session on the server (`KILL`), from a connection of its own: for
   * a connection the app gave up waiting on, whose statements the server would
   * otherwise go on running, holding their locks, and might still commit (a
   * batch sends its COMMIT with its statements). Bounded by `timeoutMs`; true
   * when the server took the KILL or the session was already gone, false when
   * the server could not be asked (it then ends the session itself once it
   * notices the connection is gone).
   */
  async killSession(threadId: number, timeoutMs: number): Promise<boolean> {
    let connection: mysql.Connection | null = null;
    try {
      connection = await mysql.createConnection({
        host: this.config.db.host,
        port: this.config.db.port,
        user: this.config.db.user,
        password: this.config.db.password,
        connectTimeout: timeoutMs,
      });
      await connection.query({ sql: 'KILL ?', values: [threadId], timeout: timeoutMs });
      return true;
    } catch (error) {
      return (error as { code?: unknown }).code === 'ER_NO_SUCH_THREAD';
    } finally {
      connection?.destroy();
    }
  }

  async ping(): Promise<boolean> {
    try {
      const connection = await this.pool.getConnection();
      try {
        await connection.ping();
        return true;
      } finally {
        connection.release();
      }
    } catch {
      return false;
    }
  }

  /**
   * Runs `work` in a transaction on a connection of the pool; commits, or rolls
   * back and rethrows. With `deadlockRetries`, a transaction that InnoDB chose
   * as a deadlock victim (rolled back whole) runs again from the start, up to
   * that many times: for work that only reads and writes the database.
   */
  async transaction<T>(work: (connection: PoolConnection) => Promise<T>, { deadlockRetries = 0 } = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.transactionOnce(work);
      } catch (error) {
        if ((error as { code?: string }).code !== 'ER_LOCK_DEADLOCK' || attempt >= deadlockRetries) throw error;
      }
    }
  }

  private async transactionOnce<T>(work: (connection: PoolConnection) => Promise<T>): Promise<T> {
    const connection = await this.pool.getConnection();
    try {
      await connection.beginTransaction();
      const result = await work(connection);
      await connection.commit();
      return result;
    } catch (error) {
      await connection.rollback().catch(() => undefined);
      throw error;
    } finally {
      connection.release();
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.end(), this.batchPool.end()]);
  }
}

/** MySQL's error number for a duplicate key, and the key's name from its message. */
export function duplicateKey(error: unknown): string | null {
  const e = error as { code?: string; message?: string };
  if (e?.code !== 'ER_DUP_ENTRY') return null;
  // eslint-disable-next-line security/detect-unsafe-regex -- no nested repetition: the optional group matches once
  return /for key '(?:[^.']*\.)?([^']+)'/.exec(e.message ?? '')?.[1] ?? 'PRIMARY';
}
