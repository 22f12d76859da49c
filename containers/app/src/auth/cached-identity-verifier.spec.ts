import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnauthenticatedError } from '../errors';
import { CachedIdentityVerifier } from './cached-identity-verifier';
import type { IdentityVerifier } from './identity-verifier';

function counting(expiresAt: number) {
  const calls: string[] = [];
  const inner: IdentityVerifier = {
    verify(token) {
      calls.push(token);
      // eslint-disable-next-line security/detect-possible-timing-attacks -- a test fake, not a secret check
      if (token === 'bad') return Promise.reject(new UnauthenticatedError('invalid-token'));
      return Promise.resolve({ uid: `uid-of-${token}`, expiresAt });
    },
  };
  return { inner, calls };
}

describe('CachedIdentityVerifier', () => {
  it('When the same valid token comes again, then it is verified once', async () => {
    let now = 1_000_000;
    const { inner, calls } = counting(now / 1000 + 3600);
    const verifier = new CachedIdentityVerifier(inner, () => now);
    assert.equal((await verifier.verify('t1')).uid, 'uid-of-t1');
    now += 1000;
    assert.equal((await verifier.verify('t1')).uid, 'uid-of-t1');
    assert.deepEqual(calls, ['t1']);
  });

  it('When the token has expired, then it is verified again (and refused by the provider)', async () => {
    let now = 1_000_000;
    const { inner, calls } = counting(now / 1000 + 10);
    const verifier = new CachedIdentityVerifier(inner, () => now);
    await verifier.verify('t1');
    now += 11_000;
    await verifier.verify('t1');
    assert.deepEqual(calls, ['t1', 't1']);
  });

  it('When a token fails verification, then the failure is not cached', async () => {
    const { inner, calls } = counting(Date.now() / 1000 + 3600);
    const verifier = new CachedIdentityVerifier(inner);
    await assert.rejects(verifier.verify('bad'), UnauthenticatedError);
    await assert.rejects(verifier.verify('bad'), UnauthenticatedError);
    assert.deepEqual(calls, ['bad', 'bad']);
  });
});
