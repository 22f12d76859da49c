import { inject, injectable } from 'tsyringe';
import type { ResultSetHeader, RowDataPacket } from 'mysql2';
import { ConflictError } from '../errors';
import type { Experiment, ExperimentDetails, ExperimentFields } from '../model/experiment';
import type { User } from '../model/user';
import { StorageConnector, duplicateKey } from './storage-connector';
import { USER_COLUMNS, toUser, type UserRow } from './user.repository';

interface ExperimentRow extends RowDataPacket {
  id: number;
  experiment_id: string;
  name: string;
  description: string;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'e.id, e.experiment_id, e.name, e.description, e.created_at, e.updated_at';

const toExperiment = (row: ExperimentRow): Experiment => ({
  ref: row.id,
  experimentId: row.experiment_id,
  name: row.name,
  description: row.description,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** Experiments and their user associations. */
/** An experiment and whether a given user is associated with it. */
export interface ExperimentWithAssociation {
  experiment: Experiment;
  associated: boolean;
}

@injectable()
export class ExperimentRepository {
  constructor(@inject(StorageConnector) private readonly storage: StorageConnector) {}

  async insert(experimentId: string, fields: ExperimentFields, now: Date): Promise<Experiment> {
    try {
      const [result] = await this.storage.pool.execute<ResultSetHeader>(
        `INSERT INTO experiments (experiment_id, name, description, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?)`,
        [experimentId, fields.name, fields.description, now, now],
      );
      return { ref: result.insertId, experimentId, ...fields, createdAt: now, updatedAt: now };
    } catch (error) {
      if (duplicateKey(error)) throw new ConflictError('experiment_id already exists');
      throw error;
    }
  }

  async findById(experimentId: string): Promise<Experiment | null> {
    const [rows] = await this.storage.pool.execute<ExperimentRow[]>(
      `SELECT ${COLUMNS} FROM experiments e WHERE e.experiment_id = ?`,
      [experimentId],
    );
    return rows[0] ? toExperiment(rows[0]) : null;
  }

  /** The experiment and whether `userId` is associated with it, in one round trip. */
  async findWithAssociation(
    experimentId: string,
    userId: string,
  ): Promise<ExperimentWithAssociation | null> {
    const [rows] = await this.storage.pool.execute<ExperimentRow[]>(
      `SELECT ${COLUMNS},
              EXISTS(SELECT 1 FROM experiment_users eu WHERE eu.experiment_ref = e.id AND eu.user_id = ?) AS associated
       FROM experiments e WHERE e.experiment_id = ?`,
      [userId, experimentId],
    );
    const row = rows[0];
    return row ? { experiment: toExperiment(row), associated: Number(row.associated) === 1 } : null;
  }

  /** Experiments in id order after `afterId`; only those associated with `userId` when given. */
  async list(limit: number, afterId: string | undefined, userId?: string): Promise<Experiment[]> {
    const [rows] = userId
      ? await this.storage.pool.query<ExperimentRow[]>(
          `SELECT ${COLUMNS} FROM experiments e
           JOIN experiment_users eu ON eu.experiment_ref = e.id AND eu.user_id = ?
           WHERE e.experiment_id > ? ORDER BY e.experiment_id LIMIT ?`,
          [userId, afterId ?? '', limit],
        )
      : await this.storage.pool.query<ExperimentRow[]>(
          `SELECT ${COLUMNS} FROM experiments e
           WHERE e.experiment_id > ? ORDER BY e.experiment_id LIMIT ?`,
          [afterId ?? '', limit],
        );
    return rows.map(toExperiment);
  }

  async details(experiment: Experiment): Promise<ExperimentDetails> {
    const [rows] = await this.storage.pool.execute<RowDataPacket[]>(
      `SELECT (SELECT COUNT(*) FROM sensors WHERE experiment_ref = ?) AS sensor_count,
              (SELECT MAX(ts) FROM measures WHERE experiment_ref = ?) AS last_ts`,
      [experiment.ref, experiment.ref],
    );
    const row = rows[0];
    return {
      ...experiment,
      sensorCount: Number(row?.sensor_count ?? 0),
      lastMeasureAt: row?.last_ts == null ? null : Number(row.last_ts),
    };
  }

  async update(ref: number, fields: ExperimentFields, now: Date): Promise<void> {
    await this.storage.pool.execute(
      'UPDATE experiments SET name = ?, description = ?, updated_at = ? WHERE id = ?',
      [fields.name, fields.description, now, ref],
    );
  }

  /**
   * Deletes the experiment with its measures, sensors and associations,
   * atomically; unless `withMeasures`, only when it has none (false: it has
   * some, and nothing was deleted). The experiment's row is locked first, as
   * ingestion locks it (shared) for each batch it writes: a batch being written
   * now commits before the check, and a later one finds the experiment gone.
   */
  async delete(ref: number, withMeasures: boolean): Promise<boolean> {
    return this.storage.transaction(
      async (connection) => {
        await connection.execute('SELECT id FROM experiments WHERE id = ? FOR UPDATE', [ref]);
        if (!withMeasures) {
          const [rows] = await connection.execute<RowDataPacket[]>('SELECT 1 FROM measures WHERE experiment_ref = ? LIMIT 1', [ref]);
          if (rows.length > 0) return false;
        }
        await connection.execute('DELETE FROM measures WHERE experiment_ref = ?', [ref]);
        await connection.execute('DELETE FROM measure_hours WHERE experiment_ref = ?', [ref]);
        await connection.execute('DELETE FROM measure_hours_stale WHERE experiment_ref = ?', [ref]);
        await connection.execute('DELETE FROM measure_days WHERE experiment_ref = ?', [ref]);
        await connection.execute('DELETE FROM measure_days_stale WHERE experiment_ref = ?', [ref]);
        await connection.execute('DELETE FROM experiments WHERE id = ?', [ref]);
        return true;
      },
      { deadlockRetries: 2 },
    );
  }

  /** Returns false when the association already existed. */
  async associate(ref: number, userId: string, now: Date): Promise<boolean> {
    const [result] = await this.storage.pool.execute<ResultSetHeader>(
      'INSERT IGNORE INTO experiment_users (experiment_ref, user_id, created_at) VALUES (?, ?, ?)',
      [ref, userId, now],
    );
    return result.affectedRows === 1;
  }

  async dissociate(ref: number, userId: string): Promise<boolean> {
    const [result] = await this.storage.pool.execute<ResultSetHeader>(
      'DELETE FROM experiment_users WHERE experiment_ref = ? AND user_id = ?',
      [ref, userId],
    );
    return result.affectedRows === 1;
  }

  async associatedUsers(ref: number): Promise<User[]> {
    const [rows] = await this.storage.pool.execute<UserRow[]>(
      `SELECT ${USER_COLUMNS.map((c) => `u.${c}`).join(', ')}
       FROM experiment_users eu JOIN users u ON u.user_id = eu.user_id
       WHERE eu.experiment_ref = ? ORDER BY u.user_id`,
      [ref],
    );
    return rows.map(toUser);
  }
}
