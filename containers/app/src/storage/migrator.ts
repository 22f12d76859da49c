import { inject, injectable } from 'tsyringe';
import { CONFIG, type AppConfig } from '../config';
import { Logging } from '../logging/logging';
import { MIGRATIONS, type Migration } from './migrations';
import { StorageConnector } from './storage-connector';

const LOCK_TIMEOUT_SECONDS = 120;

/**
 * Creates the database if needed and applies pending migrations. A MySQL named
 * lock serialises instances that start at once: the second waits, then finds
 * nothing left to do.
 */
@injectable()
export class Migrator {
  private readonly log;

  constructor(
    @inject(CONFIG) private readonly config: AppConfig,
    @inject(StorageConnector) private readonly storage: StorageConnector,
    @inject(Logging) logging: Logging,
  ) {
    this.log = logging.logger('storage');
  }

  async migrate(migrations: Migration[] = MIGRATIONS): Promise<number[]> {
    const database = this.config.db.database;
    const connection = await this.storage.serverConnection();
    try {
      await connection.query(
        `CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
      );
      await connection.query(`USE \`${database}\``);
      const lockName = `mymonit.migrate.${database}`;
      const [[lock]] = (await connection.query('SELECT GET_LOCK(?, ?) AS acquired', [
        lockName,
        LOCK_TIMEOUT_SECONDS,
      ])) as unknown as [[{ acquired: number | null }]];
      if (lock.acquired !== 1) {
        throw new Error(`could not take the migration lock within ${LOCK_TIMEOUT_SECONDS}s`);
      }
      try {
        await connection.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
          version INT NOT NULL PRIMARY KEY,
          name VARCHAR(255) NOT NULL,
          applied_at DATETIME(3) NOT NULL
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
        const [rows] = (await connection.query('SELECT version FROM schema_migrations')) as unknown as [
          { version: number }[],
        ];
        const applied = new Set(rows.map((r) => r.version));
        const done: number[] = [];
        for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
          if (applied.has(migration.version)) continue;
          this.log.info('applying migration', { version: migration.version, name: migration.name });
          for (const statement of migration.statements) await connection.query(statement);
          await connection.query(
            'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
            [migration.version, migration.name, new Date()],
          );
          done.push(migration.version);
        }
        if (done.length === 0) this.log.debug('schema up to date');
        return done;
      } finally {
        await connection.query('SELECT RELEASE_LOCK(?)', [lockName]);
      }
    } finally {
      await connection.end();
    }
  }
}
