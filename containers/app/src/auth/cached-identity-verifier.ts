import { createHash } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import { LRUCache } from 'lru-cache';
import { FirebaseIdentityVerifier } from './firebase-identity-verifier';
import type { IdentityVerifier, VerifiedIdentity } from './identity-verifier';

const MAX_TOKENS = 10_000;
const MAX_AGE_MS = 5 * 60_000;

/**
 * Remembers verified tokens until they expire (at most five minutes), so a
 * client sending the same token on every request costs one verification, not
 * one per request. Only the token → uid step is cached here: the uid → user
 * lookup goes through the AccessCache, which every change to users empties on
 * every instance, so an erased user is refused at once.
 */
@injectable()
export class CachedIdentityVerifier implements IdentityVerifier {
  private readonly verified = new LRUCache<string, VerifiedIdentity>({ max: MAX_TOKENS });

  constructor(
    @inject(FirebaseIdentityVerifier) private readonly inner: IdentityVerifier,
    private readonly now: () => number = Date.now,
  ) {}

  async verify(token: string): Promise<VerifiedIdentity> {
    const key = createHash('sha256').update(token).digest('base64url');
    const cached = this.verified.get(key);
    if (cached && cached.expiresAt * 1000 > this.now()) return cached;
    const identity = await this.inner.verify(token);
    const ttl = Math.min(identity.expiresAt * 1000 - this.now(), MAX_AGE_MS);
    if (ttl > 0) this.verified.set(key, identity, { ttl });
    return identity;
  }

  async close(): Promise<void> {
    this.verified.clear();
    await this.inner.close?.();
  }
}
