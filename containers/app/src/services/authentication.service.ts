import { inject, injectable } from 'tsyringe';
import { IDENTITY_VERIFIER, type IdentityVerifier, type VerifiedIdentity } from '../auth/identity-verifier';
import { ForbiddenError, UnauthenticatedError } from '../errors';
import type { User } from '../model/user';
import { UserRepository } from '../storage/user.repository';
import { AccessCache } from './access-cache';

export interface Session {
  user: User;
  identity: VerifiedIdentity;
}

/**
 * Bearer token → MyMONIT user: the identity provider says who signed in, the
 * users table says whether that identity is a (non-erased) user.
 */
@injectable()
export class AuthenticationService {
  constructor(
    @inject(IDENTITY_VERIFIER) private readonly verifier: IdentityVerifier,
    @inject(UserRepository) private readonly users: UserRepository,
    @inject(AccessCache) private readonly cache: AccessCache,
  ) {}

  async authenticate(authorization: string | undefined): Promise<User> {
    return (await this.signIn(authorization)).user;
  }

  /** The user and the verified identity (uid, token expiry) behind a request. */
  async signIn(authorization: string | undefined): Promise<Session> {
    const token = /^Bearer ([^\s]+)$/i.exec(authorization?.trim() ?? '')?.[1];
    if (!token) {
      throw new UnauthenticatedError(authorization ? 'malformed-authorization-header' : 'missing-token');
    }
    const identity = await this.verifier.verify(token);
    const user = await this.userOf(identity.uid);
    if (!user) throw new ForbiddenError('this identity is not a MyMONIT user: ask an administrator');
    return { user, identity };
  }

  /** The MyMONIT user of a Firebase uid as of now, or null (none, or erased). */
  userOf(uid: string): Promise<User | null> {
    return this.cache.user(uid, () => this.users.findByUsername(uid));
  }
}
