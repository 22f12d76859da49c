import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AppConfig } from '../config';
import type { User } from '../model/user';
import type { ExperimentWithAssociation } from '../storage/experiment.repository';
import { AccessCache } from './access-cache';
import { aScientist } from '../../test/support/users';

const user = aScientist();

/** A lookup that counts its calls and resolves when told to. */
function counted<T>(value: T) {
  const calls = { n: 0 };
  const load = () => {
    calls.n++;
    return Promise.resolve(value);
  };
  return { calls, load };
}

const cacheOf = (seconds: number) => new AccessCache({ accessCacheSeconds: seconds } as AppConfig);

describe('AccessCache', () => {
  it('When it is not enabled (no notice subscription), then every lookup reads afresh', async () => {
    const cache = cacheOf(10);
    const { calls, load } = counted<User | null>(user);
    await cache.user('uid-1', load);
    await cache.user('uid-1', load);
    assert.equal(calls.n, 2);
  });

  it('When enabled, then a user is read once; an unknown uid is read every time', async () => {
    const cache = cacheOf(10);
    cache.setEnabled(true);
    const known = counted<User | null>(user);
    assert.equal(await cache.user('uid-1', known.load), user);
    assert.equal(await cache.user('uid-1', known.load), user);
    assert.equal(known.calls.n, 1);
    const unknown = counted<User | null>(null);
    await cache.user('uid-2', unknown.load);
    await cache.user('uid-2', unknown.load);
    assert.equal(unknown.calls.n, 2);
  });

  it('When a change is announced or the subscription drops, then the next lookup reads afresh', async () => {
    const cache = cacheOf(10);
    cache.setEnabled(true);
    const found = counted<ExperimentWithAssociation | null>(null);
    await cache.experiment('E1', 'S1', found.load);
    await cache.experiment('E1', 'S1', found.load);
    assert.equal(found.calls.n, 1, 'a missing experiment is remembered: creating one is a change');
    cache.invalidate();
    await cache.experiment('E1', 'S1', found.load);
    assert.equal(found.calls.n, 2);
    cache.setEnabled(false);
    await cache.experiment('E1', 'S1', found.load);
    await cache.experiment('E1', 'S1', found.load);
    assert.equal(found.calls.n, 4);
  });

  it('When a change lands while a lookup is in flight, then what that lookup read is not kept', async () => {
    const cache = cacheOf(10);
    cache.setEnabled(true);
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    const stale = cache.user('uid-1', async () => {
      await slow;
      return user;
    });
    cache.invalidate();
    release();
    assert.equal(await stale, user);
    const fresh = counted<User | null>(user);
    await cache.user('uid-1', fresh.load);
    assert.equal(fresh.calls.n, 1, 'the in-flight result was stored although a change came after it started');
  });

  it('When ACCESS_CACHE_SECONDS has passed, then the entry is read afresh', async () => {
    const cache = cacheOf(1);
    cache.setEnabled(true);
    const { calls, load } = counted<User | null>(user);
    await cache.user('uid-1', load);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await cache.user('uid-1', load);
    assert.equal(calls.n, 2);
  });

  it('When ACCESS_CACHE_SECONDS is 0, then it never caches, even when the subscription is up', async () => {
    const cache = cacheOf(0);
    cache.setEnabled(true);
    assert.equal(cache.isEnabled, false);
    const { calls, load } = counted<User | null>(user);
    await cache.user('uid-1', load);
    await cache.user('uid-1', load);
    assert.equal(calls.n, 2);
  });
});
