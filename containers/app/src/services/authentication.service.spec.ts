import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IdentityVerifier } from '../auth/identity-verifier';
import { ForbiddenError, UnauthenticatedError } from '../errors';
import type { UserRepository } from '../storage/user.repository';
import type { AppConfig } from '../config';
import { AccessCache } from './access-cache';
import { AuthenticationService } from './authentication.service';
import { aScientist } from '../../test/support/users';

const user = aScientist();

const verifier: IdentityVerifier = {
  verify(token) {
    if (token.startsWith('good-')) return Promise.resolve({ uid: token.slice(5), expiresAt: 0 });
    return Promise.reject(new UnauthenticatedError('invalid-token'));
  },
};
const users = {
  findByUsername: (uid: string) => Promise.resolve(uid === 'uid-1' ? user : null),
} as unknown as UserRepository;
const service = new AuthenticationService(verifier, users, new AccessCache({ accessCacheSeconds: 10 } as AppConfig));

describe('AuthenticationService', () => {
  it('When the token verifies and its uid is a user, then that user', async () => {
    assert.equal(await service.authenticate('Bearer good-uid-1'), user);
    assert.equal(await service.authenticate('bearer good-uid-1'), user);
  });

  it('When there is no header, a non-bearer header or a bad token, then UnauthenticatedError with a reason', async () => {
    await assert.rejects(service.authenticate(undefined), { reason: 'missing-token' });
    await assert.rejects(service.authenticate('Basic abc'), { reason: 'malformed-authorization-header' });
    await assert.rejects(service.authenticate('Bearer '), UnauthenticatedError);
    await assert.rejects(service.authenticate('Bearer bad'), { reason: 'invalid-token' });
  });

  it('When the token verifies but its uid is no user, then ForbiddenError', async () => {
    await assert.rejects(service.authenticate('Bearer good-uid-2'), ForbiddenError);
  });
});
