import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertProblem } from '../support/api-client';
import { startTestApp, type TestApp } from '../support/test-app';
import { createAdmin } from '../support/world';

describe('Operations routes', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(async () => app?.stop());

  it('When the process runs, then /health answers 200 without a token', async () => {
    const response = await app.api.get('/health');
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, { status: 'ok' });
  });

  it('When MySQL and RabbitMQ are connected, then /ready answers 200', async () => {
    let response = await app.api.get('/ready');
    for (let i = 0; i < 50 && response.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      response = await app.api.get('/ready');
    }
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(response.body.checks, { mysql: 'up', rabbitmq: 'up' });
  });

  it('When requests were served, then /metrics shows them in Prometheus format', async () => {
    await app.api.get('/health');
    const response = await app.api.get('/metrics');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type')!, /^text\/plain/);
    assert.match(response.text, /mymonit_http_requests_total\{[^}]*route="\/health"[^}]*status="200"/);
    assert.match(response.text, /mymonit_http_request_duration_seconds_bucket/);
  });

  it('When asked, then /openapi.json is an OpenAPI 3.1 document covering every route', async () => {
    const response = await app.api.request('GET', '/openapi.json', { undocumented: true });
    assert.equal(response.status, 200);
    assert.equal(response.body.openapi, '3.1.0');
    for (const path of ['/me', '/users/{user_id}', '/experiments/{experiment_id}/measures/summary']) {
      assert.ok(response.body.paths[path], `${path} documented`);
    }
  });

  it('When a browser opens /docs, then Swagger UI is served', async () => {
    const response = await fetch(`${app.baseUrl}/docs/`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /swagger-ui/);
  });

  it('When a route does not exist, then 404 problem+json', async () => {
    const response = await app.api.get('/nope', { undocumented: true });
    assertProblem(response, 404);
    assert.equal(response.body.type, 'urn:mymonit:problem:not-found');
  });

  it('When the client sends an X-Request-Id, then the response carries it; otherwise one is made', async () => {
    const given = await app.api.get('/health', { headers: { 'x-request-id': 'nginx-abc.123' } });
    assert.equal(given.headers.get('x-request-id'), 'nginx-abc.123');
    const bogus = await app.api.get('/health', { headers: { 'x-request-id': 'bad id with spaces' } });
    assert.match(bogus.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/);
  });

  it('When a body is over 1 MiB, then 413 problem+json', async () => {
    const admin = await createAdmin(app, 'A-413');
    const response = await app.api.post(
      '/experiments',
      { experiment_id: 'BIG', name: 'x', description: 'y'.repeat(1024 * 1024 + 10) },
      { token: admin.token },
    );
    assertProblem(response, 413);
  });

  it('When a body is not JSON, then 400 names the body', async () => {
    const admin = await createAdmin(app, 'A-400');
    const response = await app.api.request('POST', '/experiments', {
      token: admin.token,
      rawBody: '{"experiment_id":',
    });
    assertProblem(response, 400, ['body']);
  });

  it('When a path holds a malformed percent-encoding, then 400 problem+json names the path', async () => {
    const response = await app.api.get('/experiments/%E0%A4%A');
    assertProblem(response, 400, ['path']);
  });

  it('When a body is not JSON at all (text/plain), then 415 problem+json, also when it is large', async () => {
    const admin = await createAdmin(app, 'A-415');
    for (const rawBody of ['experiment_id=X', 'y'.repeat(2 * 1024 * 1024)]) {
      const response = await app.api.request('POST', '/experiments', {
        token: admin.token,
        rawBody,
        headers: { 'content-type': 'text/plain' },
      });
      assertProblem(response, 415);
      assert.match(response.body.detail, /application\/json, not text\/plain/);
    }
  });

  it('When a 401 or an outage 503 is documented, then so are the headers it carries, and every response documents X-Request-Id', async () => {
    const document = (await app.api.request('GET', '/openapi.json', { undocumented: true })).body;
    const responses: [string, any][] = Object.values(document.paths).flatMap((operations: any) =>
      Object.values(operations).flatMap((operation: any) => Object.entries(operation.responses)),
    );
    assert.ok(responses.length > 50);
    for (const [status, response] of responses) {
      assert.ok(response.headers?.['X-Request-Id'], `a ${status} response documents X-Request-Id`);
      if (status === '401') assert.ok(response.headers['WWW-Authenticate']);
      // An outage refusing a request (problem+json), not /ready reporting one.
      if (status === '503' && response.content['application/problem+json']) assert.ok(response.headers['Retry-After']);
    }
    assert.ok(document.components.headers['X-Request-Id'].description);
  });

  it('When answering, then security headers are set', async () => {
    const response = await app.api.get('/health');
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(response.headers.get('content-security-policy'));
    assert.equal(response.headers.get('x-powered-by'), null);
  });
});

describe('Readiness with RabbitMQ unreachable', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ RABBIT_URL: '127.0.0.1:1' });
  });
  after(async () => app?.stop());

  it('When the broker cannot be reached, then /ready answers 503 naming it while the API serves', async () => {
    const response = await app.api.get('/ready');
    assert.equal(response.status, 503);
    assert.deepEqual(response.body, { status: 'not_ready', checks: { mysql: 'up', rabbitmq: 'down' } });
    assert.equal((await app.api.get('/health')).status, 200);
  });

  it('When measures are posted while the broker cannot be reached, then 503, not a false 202', async () => {
    const admin = await createAdmin(app, 'A-503');
    assert.equal(
      (await app.api.post('/experiments', { experiment_id: 'NOBROKER', name: 'n' }, { token: admin.token })).status,
      201,
    );
    const response = await app.api.post(
      '/experiments/NOBROKER/measures',
      { experiment_id: 'NOBROKER', sensor: 's', value: 1, timestamp: 0 },
      { token: admin.token },
    );
    assertProblem(response, 503);
  });
});

describe('The web page and its settings', () => {
  let app: TestApp;
  let webRoot: string;
  before(async () => {
    webRoot = mkdtempSync(join(tmpdir(), 'mymonit-web-'));
    writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>MyMONIT</title><div id="app"></div>');
    app = await startTestApp({ WEB_ROOT: webRoot, FIREBASE_WEB_API_KEY: 'web-key-123' });
  });
  after(async () => {
    await app.stop();
    rmSync(webRoot, { recursive: true, force: true });
  });

  it('When the page asks /config.json, then it gets the Firebase project, its web key and the emulator', async () => {
    const response = await app.api.get('/config.json');
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, {
      firebase: { apiKey: 'web-key-123', authDomain: 'demo-mymonit.firebaseapp.com', projectId: 'demo-mymonit' },
      authEmulatorUrl: `http://${process.env.FIREBASE_AUTH_EMULATOR_HOST}`,
    });
  });

  it('When a browser opens /, then the built page is served, and its policy lets it reach Firebase and nothing else', async () => {
    const response = await fetch(`${app.baseUrl}/`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /<title>MyMONIT<\/title>/);
    const csp = response.headers.get('content-security-policy') ?? '';
    const connect = /connect-src ([^;]+)/.exec(csp)?.[1]?.split(' ') ?? [];
    assert.deepEqual(connect.sort(), [
      "'self'",
      `http://${process.env.FIREBASE_AUTH_EMULATOR_HOST}`,
      'https://identitytoolkit.googleapis.com',
      'https://securetoken.googleapis.com',
    ].sort());
    assert.match(csp, /script-src 'self'/);
  });
});
