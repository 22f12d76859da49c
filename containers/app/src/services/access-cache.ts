import { inject, injectable } from 'tsyringe';
import { LRUCache } from 'lru-cache';
import { CONFIG, type AppConfig } from '../config';
import type { User } from '../model/user';
import type { ExperimentWithAssociation } from '../storage/experiment.repository';

const MAX_ENTRIES = 10_000;

/** What the cache holds; `null` is a remembered "no such experiment". */
type Entry<T> = { value: T };

/**
 * The two lookups every authenticated request makes before its own query:
 * uid → user, and (experiment, user) → experiment and association. Both are
 * reused for at most ACCESS_CACHE_SECONDS, and only while this instance hears
 * the access-change notices of every instance (AccessChanges enables the cache
 * while its subscription is up and disables it, emptied, the moment that
 * subscription drops). A change made through the API empties it here before
 * the answer and everywhere else as soon as the notice arrives, so erasing a
 * user or dissociating them takes effect at once on every instance.
 *
 * A lookup that started before a change must not store what it read: each
 * change bumps the generation, and a lookup stores its result only if the
 * generation is still the one it started in.
 */
@injectable()
export class AccessCache {
  private readonly users: LRUCache<string, Entry<User | null>>;
  private readonly experiments: LRUCache<string, Entry<ExperimentWithAssociation | null>>;
  private generation = 0;
  private enabled = false;
  private readonly listeners = new Set<() => void>();
  /** ACCESS_CACHE_SECONDS=0: never enabled. */
  private readonly off: boolean;

  constructor(@inject(CONFIG) config: AppConfig) {
    const ttl = Math.max(1, config.accessCacheSeconds * 1000);
    this.users = new LRUCache({ max: MAX_ENTRIES, ttl });
    this.experiments = new LRUCache({ max: MAX_ENTRIES, ttl });
    this.off = config.accessCacheSeconds === 0;
  }

  /** The user of a Firebase uid. Unknown uids are not remembered, so a user just created can sign in at once. */
  user(uid: string, load: () => Promise<User | null>): Promise<User | null> {
    return this.lookup(this.users, uid, load, (user) => user !== null);
  }

  experiment(
    experimentId: string,
    userId: string,
    load: () => Promise<ExperimentWithAssociation | null>,
  ): Promise<ExperimentWithAssociation | null> {
    // NUL cannot occur in either id.
    return this.lookup(this.experiments, `${experimentId}\u0000${userId}`, load, () => true);
  }

  /** Forgets everything, and lookups in flight will not store what they read. */
  invalidate(): void {
    this.generation++;
    this.users.clear();
    this.experiments.clear();
    for (const listener of this.listeners) listener();
  }

  /**
   * Calls `listener` whenever access may have changed (a change here or on
   * another instance, or the notices' subscription coming or going), for what
   * holds access longer than a request (live streams). Returns the unsubscribe.
   */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called by the notice subscription: the cache serves only while notices can reach it. */
  setEnabled(enabled: boolean): void {
    this.invalidate();
    this.enabled = enabled && !this.off;
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  private async lookup<T>(
    cache: LRUCache<string, Entry<T>>,
    key: string,
    load: () => Promise<T>,
    keep: (value: T) => boolean,
  ): Promise<T> {
    if (!this.enabled) return load();
    const hit = cache.get(key);
    if (hit) return hit.value;
    const generation = this.generation;
    const value = await load();
    if (this.enabled && generation === this.generation && keep(value)) cache.set(key, { value });
    return value;
  }
}
