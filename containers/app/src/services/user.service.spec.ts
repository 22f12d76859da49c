import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors';
import { User, type Actor, type Role, type UserProfile } from '../model/user';
import type { AuditActor, AuditEvent, AuditLog, AuditTarget } from '../logging/audit-log';
import type { UserRepository } from '../storage/user.repository';
import { UserService } from './user.service';

/** In-memory stand-in for the users table, enough for the service's rules. */
class FakeUsers {
  readonly rows = new Map<string, User>();
  insert(userId: string, profile: UserProfile, now: Date) {
    const user = new User({ userId, ...profile, createdAt: now, updatedAt: now, erasedAt: null });
    this.rows.set(userId, user);
    return Promise.resolve(user);
  }
  findById(userId: string) {
    return Promise.resolve(this.rows.get(userId) ?? null);
  }
  update(userId: string, profile: UserProfile, now: Date) {
    if (profile.role !== 'ADMIN') this.keepAnotherAdmin(userId);
    Object.assign(this.rows.get(userId)!, profile, { updatedAt: now });
    return Promise.resolve(true);
  }
  erase(userId: string, now: Date) {
    this.keepAnotherAdmin(userId);
    Object.assign(this.rows.get(userId)!, { name: null, email: null, username: null, erasedAt: now });
    return Promise.resolve(true);
  }
  /** The repository's rule (enforced there under a lock): the last admin stays one. */
  private keepAnotherAdmin(userId: string) {
    const admins = [...this.rows.values()].filter((u) => u.role === 'ADMIN' && !u.isErased);
    if (admins.some((u) => u.userId === userId) && admins.length <= 1) throw new ConflictError('the last admin cannot be removed or demoted');
  }
}

const NOW = new Date('2026-11-25T12:00:00Z');
const profile = (role: Role, username = `uid-${role}`): UserProfile => ({
  name: 'N',
  email: 'n@example.org',
  username,
  role,
});
const admin: Actor = { userId: 'A1', role: 'ADMIN' };
const scientist: Actor = { userId: 'S1', role: 'SCIENTIST' };

/** Records the audit events instead of logging them. */
class FakeAudit {
  readonly events: string[] = [];
  record(event: AuditEvent, actor: AuditActor, target: AuditTarget) {
    const user = typeof target.user === 'object' ? target.user.userId : target.user;
    this.events.push(`${event} by ${actor === 'cli' ? 'cli' : actor.userId} on ${user}`);
  }
}

/** Counts the access-change notices the service sends. */
class FakeAccessChanges {
  notices = 0;
  changed() {
    this.notices++;
    return Promise.resolve();
  }
}

async function serviceWith(...users: [string, Role][]) {
  const repository = new FakeUsers();
  for (const [id, role] of users) await repository.insert(id, profile(role, `uid-${id}`), NOW);
  const audit = new FakeAudit();
  const changes = new FakeAccessChanges();
  const service = new UserService(repository as unknown as UserRepository, audit as unknown as AuditLog, changes, () => NOW);
  return { repository, audit, service, changes };
}

describe('UserService', () => {
  it('When a scientist tries an admin action, then ForbiddenError and nothing changes', async () => {
    const { repository, audit, service, changes } = await serviceWith(['A1', 'ADMIN'], ['S1', 'SCIENTIST']);
    await assert.rejects(service.create(scientist, 'S2', profile('SCIENTIST')), ForbiddenError);
    await assert.rejects(service.update(scientist, 'S1', profile('ADMIN')), ForbiddenError);
    await assert.rejects(service.erase(scientist, 'A1'), ForbiddenError);
    await assert.rejects(service.list(scientist, { limit: 10, includeErased: false }), ForbiddenError);
    assert.equal(repository.rows.size, 2);
    assert.equal(repository.rows.get('S1')!.role, 'SCIENTIST');
    assert.deepEqual(audit.events, []);
    assert.equal(changes.notices, 0);
  });

  it('When an admin creates, updates and erases a user, then each change is one audit event naming actor and target, and one access-change notice', async () => {
    const { audit, service, changes } = await serviceWith(['A1', 'ADMIN']);
    await service.create(admin, 'S2', profile('SCIENTIST', 'uid-S2'));
    await service.update(admin, 'S2', profile('ADMIN', 'uid-S2'));
    await service.erase(admin, 'S2');
    await service.bootstrapAdmin('A9', profile('ADMIN', 'uid-A9'));
    assert.deepEqual(audit.events, [
      'audit.user.create by A1 on S2',
      'audit.user.update by A1 on S2',
      'audit.user.erase by A1 on S2',
      'audit.user.create by cli on A9',
    ]);
    assert.equal(changes.notices, 4);
  });

  it('When a scientist reads another user, then ForbiddenError whether that user exists or not', async () => {
    const { service } = await serviceWith(['A1', 'ADMIN'], ['S1', 'SCIENTIST']);
    await assert.rejects(service.get(scientist, 'A1'), ForbiddenError);
    await assert.rejects(service.get(scientist, 'GHOST'), ForbiddenError);
    assert.equal((await service.get(scientist, 'S1')).userId, 'S1');
  });

  it('When the only admin would be erased or demoted, then ConflictError', async () => {
    const { service } = await serviceWith(['A1', 'ADMIN'], ['S1', 'SCIENTIST']);
    await assert.rejects(service.erase(admin, 'A1'), ConflictError);
    await assert.rejects(service.update(admin, 'A1', profile('SCIENTIST', 'uid-A1')), ConflictError);
  });

  it('When there are two admins, then one may be demoted', async () => {
    const { service } = await serviceWith(['A1', 'ADMIN'], ['A2', 'ADMIN']);
    const demoted = await service.update(admin, 'A2', profile('SCIENTIST', 'uid-A2'));
    assert.equal(demoted.role, 'SCIENTIST');
  });

  it('When an erased user is updated or erased again, then NotFoundError', async () => {
    const { service } = await serviceWith(['A1', 'ADMIN'], ['S1', 'SCIENTIST']);
    await service.erase(admin, 'S1');
    await assert.rejects(service.erase(admin, 'S1'), NotFoundError);
    await assert.rejects(service.update(admin, 'S1', profile('SCIENTIST')), NotFoundError);
  });

  it('When the bootstrap runs twice with the same values, then created then unchanged; new values update', async () => {
    const { repository, service } = await serviceWith();
    assert.equal(await service.bootstrapAdmin('A1', profile('SCIENTIST', 'uid-x')), 'created');
    assert.equal(repository.rows.get('A1')!.role, 'ADMIN');
    assert.equal(await service.bootstrapAdmin('A1', profile('SCIENTIST', 'uid-x')), 'unchanged');
    assert.equal(await service.bootstrapAdmin('A1', profile('ADMIN', 'uid-y')), 'updated');
    assert.equal(repository.rows.get('A1')!.username, 'uid-y');
  });

  it('When the bootstrap names an erased user, then ConflictError', async () => {
    const { service } = await serviceWith(['A1', 'ADMIN'], ['A2', 'ADMIN']);
    await service.erase(admin, 'A2');
    await assert.rejects(service.bootstrapAdmin('A2', profile('ADMIN')), ConflictError);
  });
});
