import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { User } from '../model/user';
import { MASK, doNotLog, isLogging, isLoggingNow, toLoggable } from './faceted';

const ada = () =>
  new User({
    userId: 'S1',
    name: 'Ada Lovelace',
    username: 'firebase-uid-ada',
    email: 'ada@example.org',
    role: 'SCIENTIST',
    createdAt: new Date('2026-01-01T00:00:00Z'),
    updatedAt: new Date('2026-01-01T00:00:00Z'),
    erasedAt: null,
  });

class Recorder {
  readonly seen: unknown[] = [];

  @isLogging
  record(user: User): void {
    this.seen.push(toLoggable({ user }));
  }

  /** Logging code that awaits in the middle, as a transport writing to a socket would. */
  @isLogging
  async recordSlowly(user: User, ms: number): Promise<string | null> {
    await sleep(ms);
    return user.email;
  }
}

describe('Faceted personal data', () => {
  it('When read outside logging code, then a @doNotLog field shows its real value', () => {
    const user = ada();
    assert.equal(user.email, 'ada@example.org');
    assert.equal(JSON.stringify(user).includes('ada@example.org'), true);
    assert.equal(isLoggingNow(), false);
  });

  it('When read inside an @isLogging method, then every @doNotLog field reads *** and the others their value', () => {
    const recorder = new Recorder();
    recorder.record(ada());
    assert.deepEqual(recorder.seen, [
      {
        user: {
          userId: 'S1',
          name: MASK,
          username: MASK,
          email: MASK,
          role: 'SCIENTIST',
          createdAt: '2026-01-01T00:00:00.000Z',
          updatedAt: '2026-01-01T00:00:00.000Z',
          erasedAt: null,
        },
      },
    ]);
  });

  it('When a field is null (an erased user), then logging shows null rather than ***', () => {
    const user = ada();
    user.email = null;
    const recorder = new Recorder();
    recorder.record(user);
    assert.equal((recorder.seen[0] as { user: { email: unknown } }).user.email, null);
  });

  it('When logging code and other code interleave across awaits, then each sees only its own facet', async () => {
    const user = ada();
    const recorder = new Recorder();
    // 50 slow logging calls and 50 plain readers, all in flight at once on the same object.
    const logged = Array.from({ length: 50 }, (_, i) => recorder.recordSlowly(user, 1 + (i % 7)));
    const plain = Array.from({ length: 50 }, async (_, i) => {
      await sleep(1 + ((i * 3) % 7));
      return user.email;
    });
    assert.deepEqual(new Set(await Promise.all(logged)), new Set([MASK]));
    assert.deepEqual(new Set(await Promise.all(plain)), new Set(['ada@example.org']));
    assert.equal(user.email, 'ada@example.org');
  });

  it('When a class marks its own field, then the decorator works on it and keeps values per instance', () => {
    class Badge {
      @doNotLog holder!: string;
      constructor(holder: string) {
        this.holder = holder;
      }
    }
    const a = new Badge('Alice Example');
    const b = new Badge('Bob Example');
    assert.deepEqual([a.holder, b.holder], ['Alice Example', 'Bob Example']);
    assert.deepEqual(toLoggable([a, b]), [{ holder: 'Alice Example' }, { holder: 'Bob Example' }]);
    class Reader {
      @isLogging read(x: Badge) {
        return toLoggable(x);
      }
    }
    assert.deepEqual(new Reader().read(a), { holder: MASK });
  });

  it('When a value has errors, cycles, big integers or buffers, then the loggable copy is plain JSON', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const error = Object.assign(new Error('boom'), { code: 'ECONNREFUSED' });
    assert.deepEqual(toLoggable({ cyclic, error, n: 10n, buffer: Buffer.alloc(3), f: () => 1 }), {
      cyclic: { a: 1, self: '[Circular]' },
      error: { name: 'Error', message: 'boom', code: 'ECONNREFUSED' },
      n: '10',
      buffer: '<3 bytes>',
    });
  });
});
