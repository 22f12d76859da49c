import { inject, injectable } from 'tsyringe';
import type { ResultSetHeader, RowDataPacket } from 'mysql2';
import type { PoolConnection } from 'mysql2/promise';
import { ConflictError } from '../errors';
import { User, type Role, type UserProfile } from '../model/user';
import { StorageConnector, duplicateKey } from './storage-connector';

export interface UserRow extends RowDataPacket {
  user_id: string;
  username: string | null;
  name: string | null;
  email: string | null;
  role: Role;
  created_at: Date;
  updated_at: Date;
  erased_at: Date | null;
}

export const USER_COLUMNS = ['user_id', 'username', 'name', 'email', 'role', 'created_at', 'updated_at', 'erased_at'];
const COLUMNS = USER_COLUMNS.join(', ');

export const toUser = (row: UserRow) =>
  new User({
    userId: row.user_id,
    username: row.username,
    name: row.name,
    email: row.email,
    role: row.role,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    erasedAt: row.erased_at,
  });

function conflict(error: unknown): never {
  const key = duplicateKey(error);
  if (key === 'uq_users_username') throw new ConflictError('username is already used by another user');
  if (key !== null) throw new ConflictError('user_id already exists');
  throw error;
}

@injectable()
export class UserRepository {
  constructor(@inject(StorageConnector) private readonly storage: StorageConnector) {}

  async insert(userId: string, profile: UserProfile, now: Date): Promise<User> {
    try {
      await this.storage.pool.execute(
        `INSERT INTO users (user_id, username, name, email, role, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        [userId, profile.username, profile.name, profile.email, profile.role, now, now],
      );
    } catch (error) {
      conflict(error);
    }
    return new User({ userId, ...profile, createdAt: now, updatedAt: now, erasedAt: null });
  }

  async findById(userId: string): Promise<User | null> {
    const [rows] = await this.storage.pool.execute<UserRow[]>(
      `SELECT ${COLUMNS} FROM users WHERE user_id = ?`,
      [userId],
    );
    return rows[0] ? toUser(rows[0]) : null;
  }

  /** The active user a Firebase uid signs in as. */
  async findByUsername(username: string): Promise<User | null> {
    const [rows] = await this.storage.pool.execute<UserRow[]>(
      `SELECT ${COLUMNS} FROM users WHERE username = ? AND erased_at IS NULL`,
      [username],
    );
    return rows[0] ? toUser(rows[0]) : null;
  }

  /** Users in `user_id` order, starting after `afterUserId`. */
  async list(limit: number, afterUserId: string | undefined, includeErased: boolean): Promise<User[]> {
    const [rows] = await this.storage.pool.query<UserRow[]>(
      `SELECT ${COLUMNS} FROM users
       WHERE user_id > ? ${includeErased ? '' : 'AND erased_at IS NULL'}
       ORDER BY user_id LIMIT ?`,
      [afterUserId ?? '', limit],
    );
    return rows.map(toUser);
  }

  async update(userId: string, profile: UserProfile, now: Date): Promise<boolean> {
    try {
      return await this.storage.transaction(async (connection) => {
        if (profile.role !== 'ADMIN') await this.keepAnotherAdmin(connection, userId);
        const [result] = await connection.execute<ResultSetHeader>(
          `UPDATE users SET username = ?, name = ?, email = ?, role = ?, updated_at = ?
           WHERE user_id = ? AND erased_at IS NULL`,
          [profile.username, profile.name, profile.email, profile.role, now, userId],
        );
        return result.affectedRows === 1;
      }, { deadlockRetries: 2 });
    } catch (error) {
      conflict(error);
    }
  }

  /**
   * GDPR erasure: personal data and associations go, the row stays as an audit
   * tombstone (`user_id`, `role`, `erased_at`).
   */
  async erase(userId: string, now: Date): Promise<boolean> {
    return this.storage.transaction(async (connection) => {
      await this.keepAnotherAdmin(connection, userId);
      const [result] = await connection.execute<ResultSetHeader>(
        `UPDATE users SET username = NULL, name = NULL, email = NULL, updated_at = ?, erased_at = ?
         WHERE user_id = ? AND erased_at IS NULL`,
        [now, now, userId],
      );
      if (result.affectedRows !== 1) return false;
      await connection.execute('DELETE FROM experiment_users WHERE user_id = ?', [userId]);
      return true;
    }, { deadlockRetries: 2 });
  }

  /**
   * Refuses to let `userId` stop being an admin when no other admin is left.
   * The admins' rows stay locked until the transaction ends, so two admins
   * erasing or demoting each other at once cannot both pass: the second waits,
   * then counts again.
   */
  private async keepAnotherAdmin(connection: PoolConnection, userId: string): Promise<void> {
    const [admins] = await connection.query<RowDataPacket[]>(
      "SELECT user_id FROM users WHERE role = 'ADMIN' AND erased_at IS NULL FOR UPDATE",
    );
    const isAdmin = admins.some((a) => a.user_id === userId);
    if (isAdmin && admins.length <= 1) throw new ConflictError('the last admin cannot be removed or demoted');
  }
}
