import { inject, injectable } from 'tsyringe';
import mysql, { type Pool, type PoolConnection } from 'mysql2/promise';
import { CONFIG, type AppConfig } from '../config';

/** The MySQL connection pool: the only way the repositories reach the database. */
@injectable()
export class StorageConnector {
  readonly pool: Pool;

  constructor(@inject(CONFIG) private readonly config: AppConfig) {
    this.pool = mysql.createPool({
      host: config.db.host,
      port: config.db.port,
      user: config.db.user,
      password: config.db.password,
      database: config.db.database,
      connectionLimit: config.db.poolSize,
      waitForConnections: true,
      queueLimit: 1000,
      connectTimeout: 5_000,
      enableKeepAlive: true,
      timezone: 'Z',
      supportBigNumbers: true,
      charset: 'utf8mb4_bin',
    });
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

  async transaction<T>(work: (connection: PoolConnection) => Promise<T>): Promise<T> {
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
    await this.pool.end();
  }
}

/** MySQL's error number for a duplicate key, and the key's name from its message. */
export function duplicateKey(error: unknown): string | null {
  const e = error as { code?: string; message?: string };
  if (e?.code !== 'ER_DUP_ENTRY') return null;
  // eslint-disable-next-line security/detect-unsafe-regex -- no nested repetition: the optional group matches once
  return /for key '(?:[^.']*\.)?([^']+)'/.exec(e.message ?? '')?.[1] ?? 'PRIMARY';
}
