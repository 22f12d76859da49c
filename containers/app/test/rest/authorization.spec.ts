import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertProblem } from '../support/api-client';
import { freePort, startAppProcess } from '../support/app-process';
import { disableIdentity, forgedToken, signUp } from '../support/identities';
import { startTestApp, testEnvironment, type TestApp } from '../support/test-app';
import { buildWorld, type World } from '../support/world';

/** Every route that needs a token, with a request that is valid apart from who sends it. */
const PROTECTED: { method: string; path: string; body?: unknown; template: string }[] = [
  { method: 'GET', path: '/me', template: '/me' },
  {
    method: 'POST',
    path: '/users',
    template: '/users',
    body: { user_id: 'NEW1', name: 'N', username: 'uid-new1', email: 'n@example.org', role: 'SCIENTIST' },
  },
  { method: 'GET', path: '/users', template: '/users' },
  { method: 'GET', path: '/users/S1', template: '/users/{user_id}' },
  {
    method: 'PUT',
    path: '/users/S1',
    template: '/users/{user_id}',
    body: { name: 'N', username: 'uid-x', email: 'n@example.org', role: 'SCIENTIST' },
  },
  { method: 'DELETE', path: '/users/S1', template: '/users/{user_id}' },
  { method: 'GET', path: '/users/S1/experiments', template: '/users/{user_id}/experiments' },
  { method: 'POST', path: '/experiments', template: '/experiments', body: { experiment_id: 'NEW-EXP', name: 'N' } },
  { method: 'GET', path: '/experiments', template: '/experiments' },
  { method: 'GET', path: '/experiments/EXP-A', template: '/experiments/{experiment_id}' },
  { method: 'PUT', path: '/experiments/EXP-A', template: '/experiments/{experiment_id}', body: { name: 'N' } },
  { method: 'DELETE', path: '/experiments/EXP-A', template: '/experiments/{experiment_id}' },
  {
    method: 'POST',
    path: '/experiments/EXP-A/users',
    template: '/experiments/{experiment_id}/users',
    body: { user_id: 'S2' },
  },
  { method: 'GET', path: '/experiments/EXP-A/users', template: '/experiments/{experiment_id}/users' },
  {
    method: 'DELETE',
    path: '/experiments/EXP-A/users/S1',
    template: '/experiments/{experiment_id}/users/{user_id}',
  },
  { method: 'GET', path: '/experiments/EXP-A/sensors', template: '/experiments/{experiment_id}/sensors' },
  { method: 'GET', path: '/experiments/EXP-A/measures', template: '/experiments/{experiment_id}/measures' },
  {
    method: 'GET',
    path: '/experiments/EXP-A/measures/summary?bucket=1h',
    template: '/experiments/{experiment_id}/measures/summary',
  },
  {
    method: 'GET',
    path: '/experiments/EXP-A/measures/stream',
    template: '/experiments/{experiment_id}/measures/stream',
  },
  {
    method: 'POST',
    path: '/experiments/EXP-A/measures',
    template: '/experiments/{experiment_id}/measures',
    body: { experiment_id: 'EXP-A', sensor: 'auth/matrix', value: 1, timestamp: '2026-11-23T10:00:00Z' },
  },
];

/** The reads of one experiment: what association grants. */
const EXPERIMENT_READS = (id: string) => [
  `/experiments/${id}`,
  `/experiments/${id}/sensors`,
  `/experiments/${id}/measures`,
  `/experiments/${id}/measures/summary?bucket=1h`,
  `/experiments/${id}/measures/stream`,
];

/** What association grants besides reads: publishing measures over HTTP. */
const ASSOCIATED_WRITES = ['POST /experiments/{experiment_id}/measures'];

const ADMIN_ONLY = PROTECTED.filter(
  (r) =>
    !ASSOCIATED_WRITES.includes(`${r.method} ${r.template}`) &&
    (r.method !== 'GET' || ['/users', '/experiments/{experiment_id}/users'].includes(r.template)),
);

const headersOnly = (path: string) => path.endsWith('/stream');

describe('Authorisation matrix', () => {
  let app: TestApp;
  let world: World;
  const send = (route: (typeof PROTECTED)[number], token?: string, headers?: Record<string, string>) =>
    app.api.request(route.method, route.path, { token, body: route.body, headers, headersOnly: headersOnly(route.path) });

  before(async () => {
    app = await startTestApp();
    world = await buildWorld(app);
  });
  after(async () => app?.stop());

  it('When the OpenAPI document lists the protected operations, then this matrix covers each of them', async () => {
    const document = (await app.api.request('GET', '/openapi.json', { undocumented: true })).body;
    const documented = Object.entries(document.paths as Record<string, Record<string, { security?: unknown[] }>>)
      .flatMap(([path, operations]) =>
        Object.entries(operations)
          .filter(([, op]) => (op.security ?? []).length > 0)
          .map(([method]) => `${method.toUpperCase()} ${path}`),
      )
      .sort();
    const covered = [...new Set(PROTECTED.map((r) => `${r.method} ${r.template}`))].sort();
    assert.deepEqual(covered, documented);
  });

  it('When no token is sent, then every protected route answers 401 with WWW-Authenticate', async () => {
    for (const route of PROTECTED) {
      const response = await send(route);
      assertProblem(response, 401);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer', `${route.method} ${route.path}`);
    }
  });

  it('When the Authorization header is not a bearer token, then 401', async () => {
    for (const route of PROTECTED) {
      assertProblem(await send(route, undefined, { authorization: 'Basic YWRtaW46YWRtaW4=' }), 401);
    }
  });

  it('When the token is garbage, forged for an unknown uid, or expired, then 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const expired = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({
      iss: 'https://securetoken.google.com/demo-mymonit',
      aud: 'demo-mymonit',
      sub: world.admin.identity.uid,
      iat: now - 7200,
      exp: now - 3600,
      auth_time: now - 7200,
    })}.`;
    for (const token of ['not-a-jwt', world.forged, forgedToken(''), expired]) {
      for (const route of PROTECTED) assertProblem(await send(route, token), 401);
    }
  });

  it('When a Firebase account was disabled, then its still-unexpired token gets 401 (before any user lookup)', async () => {
    const [enabled, disabled] = [await signUp('enabled'), await signUp('disabled')];
    await disableIdentity(disabled);
    assertProblem(await app.api.get('/me', { token: enabled.idToken }), 403); // valid, but no MyMONIT user
    assertProblem(await app.api.get('/me', { token: disabled.idToken }), 401);
  });

  it('When Firebase cannot be reached to verify a token, then 503 with Retry-After, not a 401 that signs the user out', { timeout: 60_000 }, async () => {
    const unreachable = await startAppProcess({ ...testEnvironment(), FIREBASE_AUTH_EMULATOR_HOST: `127.0.0.1:${await freePort()}` });
    try {
      const response = await fetch(`${unreachable.baseUrl}/me`, { headers: { authorization: `Bearer ${forgedToken('someone')}` } });
      assert.equal(response.status, 503, await response.clone().text());
      assert.equal(response.headers.get('retry-after'), '5');
      assert.match(((await response.json()) as { detail: string }).detail, /Firebase cannot be reached/);
    } finally {
      await unreachable.stop('SIGTERM');
    }
  });

  it('When a valid identity is no MyMONIT user, then 403 on every protected route', async () => {
    for (const route of PROTECTED) assertProblem(await send(route, world.stranger.token), 403);
  });

  it('When the user was erased, then their still-valid token gets 403 on every protected route', async () => {
    for (const route of PROTECTED) assertProblem(await send(route, world.erased.token), 403);
  });

  it('When a scientist calls an admin route, then 403 and nothing changes', async () => {
    for (const route of ADMIN_ONLY) {
      assertProblem(await send(route, world.scientist.token), 403);
    }
    const users = await app.api.get('/users?include_erased=true', { token: world.admin.token });
    assert.deepEqual(
      users.body.items.map((u: { user_id: string }) => u.user_id),
      ['A1', 'S1', 'S2', 'S9'],
    );
    assert.equal((await app.api.get('/experiments/EXP-A', { token: world.admin.token })).body.name, 'Experiment EXP-A');
  });

  it('When a scientist reads an experiment they are not associated with, then 404 on every read', async () => {
    for (const path of [...EXPERIMENT_READS('EXP-A'), ...EXPERIMENT_READS('EXP-B'), ...EXPERIMENT_READS('NOPE')]) {
      const response = await app.api.get(path, { token: world.outsider.token, headersOnly: headersOnly(path) });
      assertProblem(response, 404);
    }
    const list = await app.api.get('/experiments', { token: world.outsider.token });
    assert.deepEqual(list.body.items, []);
  });

  it('When an associated scientist reads their experiment, then 200; the other one stays 404', async () => {
    for (const path of EXPERIMENT_READS('EXP-A')) {
      assert.equal((await app.api.get(path, { token: world.scientist.token, headersOnly: headersOnly(path) })).status, 200, path);
    }
    for (const path of EXPERIMENT_READS('EXP-B')) {
      assertProblem(await app.api.get(path, { token: world.scientist.token, headersOnly: headersOnly(path) }), 404);
    }
    const published = await app.api.post('/experiments/EXP-A/measures', { experiment_id: 'EXP-A', sensor: 's', value: 1, timestamp: '2026-11-23T10:00:00Z' }, { token: world.scientist.token });
    assert.equal(published.status, 202);
    assertProblem(
      await app.api.post('/experiments/EXP-B/measures', { experiment_id: 'EXP-B', sensor: 's', value: 1, timestamp: '2026-11-23T10:00:00Z' }, { token: world.scientist.token }),
      404,
    );
    const list = await app.api.get('/experiments', { token: world.scientist.token });
    assert.deepEqual(list.body.items.map((e: { experiment_id: string }) => e.experiment_id), ['EXP-A']);
  });

  it('When a scientist reads their own user or experiments, then 200; another user, then 403', async () => {
    assert.equal((await app.api.get('/me', { token: world.scientist.token })).body.user_id, 'S1');
    assert.equal((await app.api.get('/users/S1', { token: world.scientist.token })).status, 200);
    const own = await app.api.get('/users/S1/experiments', { token: world.scientist.token });
    assert.deepEqual(own.body.items.map((e: { experiment_id: string }) => e.experiment_id), ['EXP-A']);
    for (const path of ['/users/S2', '/users/S2/experiments', '/users/A1', '/users/NOBODY']) {
      assertProblem(await app.api.get(path, { token: world.scientist.token }), 403);
    }
  });

  it('When an admin calls every route, then each succeeds', async () => {
    const expected: Record<string, number> = {
      'POST /users': 201,
      'POST /experiments': 201,
      'POST /experiments/{experiment_id}/users': 201,
      'POST /experiments/{experiment_id}/measures': 202,
      'DELETE /users/{user_id}': 204,
      'DELETE /experiments/{experiment_id}/users/{user_id}': 204,
    };
    // Destructive routes last (association, experiment, then user), so each finds its target.
    const rank = (r: (typeof PROTECTED)[number]) =>
      r.method !== 'DELETE' ? 0 : r.template.endsWith('{user_id}') && r.template.startsWith('/experiments') ? 1 : r.template.startsWith('/experiments') ? 2 : 3;
    const ordered = [...PROTECTED].sort((a, b) => rank(a) - rank(b));
    for (const route of ordered) {
      const path = route.method === 'DELETE' && route.template === '/experiments/{experiment_id}' ? `${route.path}?force=true` : route.path;
      const response = await app.api.request(route.method, path, {
        token: world.admin.token,
        body: route.body,
        headersOnly: headersOnly(path),
      });
      const want = expected[`${route.method} ${route.template}`] ?? (route.method === 'DELETE' ? 204 : 200);
      assert.equal(response.status, want, `${route.method} ${path}: ${response.text}`);
    }
  });
});
