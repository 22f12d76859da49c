import { inject, injectable } from 'tsyringe';
import { ConflictError, NotFoundError } from '../errors';
import { AuditLog } from '../logging/audit-log';
import type { Actor, User, UserProfile } from '../model/user';
import { AccessChanges } from '../rabbit/access-changes';
import { UserRepository } from '../storage/user.repository';
import { requireAdmin, requireAdminOrSelf } from './access';
import { decodeCursor, isKeyCursor, pageOf, type Page } from './cursor';

export interface UserListQuery {
  limit: number;
  cursor?: string;
  includeErased: boolean;
}

@injectable()
export class UserService {
  constructor(
    @inject(UserRepository) private readonly users: UserRepository,
    @inject(AuditLog) private readonly audit: AuditLog,
    @inject(AccessChanges) private readonly accessChanges: Pick<AccessChanges, 'changed'>,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async create(actor: Actor, userId: string, profile: UserProfile): Promise<User> {
    requireAdmin(actor);
    const user = await this.users.insert(userId, profile, this.clock());
    await this.accessChanges.changed();
    this.audit.record('audit.user.create', actor, { user });
    return user;
  }

  async get(actor: Actor, userId: string): Promise<User> {
    requireAdminOrSelf(actor, userId);
    const user = await this.users.findById(userId);
    if (!user) throw new NotFoundError(`user ${userId} not found`);
    return user;
  }

  async list(actor: Actor, query: UserListQuery): Promise<Page<User>> {
    requireAdmin(actor);
    const after = query.cursor ? decodeCursor(query.cursor, isKeyCursor).k : undefined;
    const rows = await this.users.list(query.limit + 1, after, query.includeErased);
    return pageOf(rows, query.limit, (last) => ({ k: last.userId }));
  }

  async update(actor: Actor, userId: string, profile: UserProfile): Promise<User> {
    requireAdmin(actor);
    const current = await this.activeUser(userId);
    await this.users.update(userId, profile, this.clock());
    await this.accessChanges.changed();
    const user = await this.activeUser(userId);
    this.audit.record('audit.user.update', actor, { user, details: { previousRole: current.role } });
    return user;
  }

  /** GDPR erasure (right to be forgotten); the last admin cannot be erased. */
  async erase(actor: Actor, userId: string): Promise<void> {
    requireAdmin(actor);
    await this.activeUser(userId);
    // The repository refuses to erase the last admin (under a lock: two admins may try at once).
    if (!(await this.users.erase(userId, this.clock()))) {
      throw new NotFoundError(`user ${userId} not found`);
    }
    await this.accessChanges.changed();
    this.audit.record('audit.user.erase', actor, { user: userId });
  }

  /**
   * Makes `userId` an admin signing in as `profile.username`, creating or
   * updating it (idempotent). For the command-line bootstrap of a fresh install.
   */
  async bootstrapAdmin(userId: string, profile: UserProfile): Promise<'created' | 'updated' | 'unchanged'> {
    const admin = { ...profile, role: 'ADMIN' as const };
    const existing = await this.users.findById(userId);
    if (!existing) {
      const user = await this.users.insert(userId, admin, this.clock());
      await this.accessChanges.changed();
      this.audit.record('audit.user.create', 'cli', { user });
      return 'created';
    }
    if (existing.isErased) throw new ConflictError(`user ${userId} was erased; choose another user_id`);
    const same =
      existing.role === 'ADMIN' &&
      existing.username === admin.username &&
      existing.name === admin.name &&
      existing.email === admin.email;
    if (same) return 'unchanged';
    await this.users.update(userId, admin, this.clock());
    await this.accessChanges.changed();
    this.audit.record('audit.user.update', 'cli', {
      user: (await this.users.findById(userId)) ?? userId,
      details: { previousRole: existing.role },
    });
    return 'updated';
  }

  private async activeUser(userId: string): Promise<User> {
    const user = await this.users.findById(userId);
    if (!user || user.isErased) throw new NotFoundError(`user ${userId} not found`);
    return user;
  }
}
