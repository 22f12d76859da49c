import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertProblem } from '../support/api-client';
import { signUp } from '../support/identities';
import { StorageConnector } from '../../src/storage/storage-connector';
import { startTestApp, type TestApp } from '../support/test-app';
import { associate, createAdmin, createExperiment, createScientist, type Person } from '../support/world';

describe('Users', () => {
  let app: TestApp;
  let admin: Person;
  const asAdmin = () => ({ token: admin.token });

  before(async () => {
    app = await startTestApp();
    admin = await createAdmin(app);
  });
  after(async () => app?.stop());

  it('When an admin creates a user, then 201 with Location, and the user can be read and signs in', async () => {
    const identity = await signUp('ada');
    const response = await app.api.post(
      '/users',
      { user_id: 'S100', name: 'Ada Lovelace', username: identity.uid, email: identity.email, role: 'SCIENTIST' },
      asAdmin(),
    );
    assert.equal(response.status, 201);
    assert.equal(response.headers.get('location'), '/users/S100');
    assert.deepEqual(
      { ...response.body, created_at: undefined, updated_at: undefined },
      {
        user_id: 'S100',
        name: 'Ada Lovelace',
        username: identity.uid,
        email: identity.email,
        role: 'SCIENTIST',
        erased_at: null,
        created_at: undefined,
        updated_at: undefined,
      },
    );
    const read = await app.api.get('/users/S100', asAdmin());
    assert.deepEqual(read.body, response.body);
    const me = await app.api.get('/me', { token: identity.idToken });
    assert.equal(me.status, 200);
    assert.equal(me.body.user_id, 'S100');
  });

  it('When user_id or username is already taken, then 409 and the first user is unchanged', async () => {
    const first = await createScientist(app, admin, 'S200');
    const sameId = await app.api.post(
      '/users',
      { user_id: 'S200', name: 'Other', username: 'another-uid', email: 'o@example.org', role: 'SCIENTIST' },
      asAdmin(),
    );
    assertProblem(sameId, 409);
    assert.match(sameId.body.detail, /user_id/);
    const sameUid = await app.api.post(
      '/users',
      { user_id: 'S201', name: 'Other', username: first.identity.uid, email: 'o@example.org', role: 'SCIENTIST' },
      asAdmin(),
    );
    assertProblem(sameUid, 409);
    assert.match(sameUid.body.detail, /username/);
    assert.equal((await app.api.get('/users/S200', asAdmin())).body.name, 'Scientist S200');
    assertProblem(await app.api.get('/users/S201', asAdmin()), 404);
  });

  it('When the body is invalid, then 400 names every bad field and nothing is created', async () => {
    const response = await app.api.post(
      '/users',
      { user_id: 'bad id!', name: '', email: 'not-an-email', role: 'KING', extra: 1 },
      asAdmin(),
    );
    assertProblem(response, 400, ['body.user_id', 'body.name', 'body.username', 'body.email', 'body.role']);
    assert.ok(
      response.body.errors.some((e: { field: string; message: string }) => /extra/.test(e.message) || e.field.includes('extra')),
      'unknown field named',
    );
    const list = await app.api.get('/users?limit=1000', asAdmin());
    assert.ok(!list.body.items.some((u: { user_id: string }) => u.user_id === 'bad id!'));
  });

  it('When users are listed page by page, then every user appears exactly once, in user_id order', async () => {
    for (const id of ['P1', 'P2', 'P3', 'P4', 'P5']) await createScientist(app, admin, id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
      const page = await app.api.get(`/users${query}`, asAdmin());
      assert.equal(page.status, 200);
      assert.ok(page.body.items.length <= 2);
      seen.push(...page.body.items.map((u: { user_id: string }) => u.user_id));
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor && pages < 50);
    const all = (await app.api.get('/users?limit=1000', asAdmin())).body.items.map((u: { user_id: string }) => u.user_id);
    assert.deepEqual(seen, all);
    assert.deepEqual([...seen].sort(), seen);
    assert.ok(seen.includes('P3'));
  });

  it('When limit or cursor is bad, then 400 names them', async () => {
    assertProblem(await app.api.get('/users?limit=0', asAdmin()), 400, ['query.limit']);
    assertProblem(await app.api.get('/users?limit=abc', asAdmin()), 400, ['query.limit']);
    assertProblem(await app.api.get('/users?cursor=garbage', asAdmin()), 400, ['query.cursor']);
  });

  it('When an admin replaces a user, then the new values are stored', async () => {
    await createScientist(app, admin, 'S300');
    const identity = await signUp('new-login');
    const response = await app.api.put(
      '/users/S300',
      { name: 'Renamed', username: identity.uid, email: 'renamed@example.org', role: 'ADMIN' },
      asAdmin(),
    );
    assert.equal(response.status, 200);
    assert.equal(response.body.name, 'Renamed');
    const read = await app.api.get('/users/S300', { token: identity.idToken });
    assert.equal(read.body.role, 'ADMIN');
    assert.equal(read.body.email, 'renamed@example.org');
    assertProblem(await app.api.put('/users/NOPE', { name: 'x', username: 'y', email: 'z@example.org', role: 'ADMIN' }, asAdmin()), 404);
    assertProblem(await app.api.put('/users/S300', { name: 'x' }, asAdmin()), 400, ['body.username', 'body.email', 'body.role']);
  });

  it('When an admin erases a user, then personal data and associations go and a tombstone stays', async () => {
    const person = await createScientist(app, admin, 'S400');
    await createExperiment(app, admin, 'EXP-ERASE');
    await associate(app, admin, 'EXP-ERASE', 'S400');
    assert.equal((await app.api.get('/me', { token: person.token })).status, 200);

    assert.equal((await app.api.delete('/users/S400', asAdmin())).status, 204);

    const tombstone = await app.api.get('/users/S400', asAdmin());
    assert.equal(tombstone.status, 200);
    assert.equal(tombstone.body.name, null);
    assert.equal(tombstone.body.email, null);
    assert.equal(tombstone.body.username, null);
    assert.equal(tombstone.body.role, 'SCIENTIST');
    assert.ok(tombstone.body.erased_at);
    assertProblem(await app.api.get('/me', { token: person.token }), 403);
    const members = await app.api.get('/experiments/EXP-ERASE/users', asAdmin());
    assert.deepEqual(members.body.items, []);
    const active = await app.api.get('/users?limit=1000', asAdmin());
    assert.ok(!active.body.items.some((u: { user_id: string }) => u.user_id === 'S400'));
    const all = await app.api.get('/users?limit=1000&include_erased=true', asAdmin());
    assert.ok(all.body.items.some((u: { user_id: string }) => u.user_id === 'S400'));
    assertProblem(await app.api.delete('/users/S400', asAdmin()), 404);
    // The user_id stays taken (audit), while the identity may be linked to a new user.
    assertProblem(
      await app.api.post('/users', { user_id: 'S400', name: 'N', username: 'fresh-uid', email: 'n@example.org', role: 'SCIENTIST' }, asAdmin()),
      409,
    );
    const relinked = await app.api.post(
      '/users',
      { user_id: 'S401', name: 'Back', username: person.identity.uid, email: 'back@example.org', role: 'SCIENTIST' },
      asAdmin(),
    );
    assert.equal(relinked.status, 201);
  });

  it('When the last admin would be erased or demoted, then 409', async () => {
    const solo = await startTestApp();
    try {
      const only = await createAdmin(solo, 'ONLY');
      assertProblem(await solo.api.delete('/users/ONLY', { token: only.token }), 409);
      assertProblem(
        await solo.api.put('/users/ONLY', { name: 'x', username: only.identity.uid, email: 'x@example.org', role: 'SCIENTIST' }, { token: only.token }),
        409,
      );
      assert.equal((await solo.api.get('/me', { token: only.token })).body.role, 'ADMIN');
    } finally {
      await solo.stop();
    }
  });

  it('When the last two admins erase or demote each other at the same moment, then one of them stays an admin', { timeout: 120_000 }, async () => {
    // Round after round on a fresh database: a check-then-write without a lock lets both pass, now and then.
    for (let round = 0; round < 4; round++) {
      const pair = await startTestApp();
      try {
        const [a, b] = [await createAdmin(pair, 'PA'), await createAdmin(pair, 'PB')];
        const demoteA = { name: 'A', username: a.identity.uid, email: 'a@example.org', role: 'SCIENTIST' };
        const answers = await Promise.all([
          pair.api.delete('/users/PB', { token: a.token }),
          round % 2 === 0 ? pair.api.delete('/users/PA', { token: b.token }) : pair.api.put('/users/PA', demoteA, { token: b.token }),
        ]);
        // The second is refused: 409 (the last admin), or 403 when it came after its own caller was erased.
        const statuses = answers.map((r) => r.status);
        assert.equal(statuses.filter((status) => status < 300).length, 1, `round ${round}: one of them passed (got ${statuses.join(', ')})`);
        assert.ok(statuses.some((status) => status === 409 || status === 403), `round ${round}: ${statuses.join(', ')}`);
        const [[{ n }]] = (await pair.container
          .resolve(StorageConnector)
          .pool.query("SELECT COUNT(*) AS n FROM users WHERE role = 'ADMIN' AND erased_at IS NULL")) as unknown as [[{ n: number }]];
        assert.equal(Number(n), 1, `round ${round}: one admin left`);
      } finally {
        await pair.stop();
      }
    }
  });
});
