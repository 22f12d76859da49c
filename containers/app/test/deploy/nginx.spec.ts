import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/amqp';
import { freePort } from '../support/app-process';
import { ConsoleLines } from '../support/log-capture';
import { startTestApp, type TestApp } from '../support/test-app';

/**
 * The real containers/nginx configuration, rendered as the image renders it
 * (envsubst of the template's variables), run by Debian's nginx on loopback
 * ports in front of the app.
 */
const nginxDir = join(__dirname, '..', '..', '..', 'nginx');
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path));
if (!NGINX) console.warn('\n*** nginx is not installed: the proxy tests are SKIPPED (.ci/run installs it with apt) ***\n');

/** What the image's envsubst step does: ${NAME} for the given names only, nginx's own $vars untouched. */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\$\{([A-Z_]+)\}/g, (whole, name: string) => values[name] ?? whole);
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

describe('Nginx in front of the app', { skip: !NGINX && 'nginx is not installed' }, () => {
  let app: TestApp;
  let nginx: ChildProcess;
  let dir: string;
  let certificate: Buffer;
  let httpPort: number;
  let httpsPort: number;
  const appConsole = new ConsoleLines();
  let appStopped = false;

  const https = (path: string, headers: Record<string, string> = {}, method = 'GET', body?: Buffer) =>
    new Promise<Answer>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: httpsPort, path, method, headers, ca: certificate, agent: false },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  /** A problem+json answer made by nginx itself: its request id in the header and the body alike. */
  const assertProxyProblem = (answer: Answer, status: number) => {
    assert.equal(answer.status, status);
    assert.equal(answer.headers['content-type'], 'application/problem+json');
    const problem = JSON.parse(answer.body) as { status: number; type: string; request_id: string };
    assert.equal(problem.status, status);
    assert.match(problem.type, /^urn:mymonit:problem:/);
    assert.match(problem.request_id, /^[0-9a-f]{32}$/);
    assert.equal(answer.headers['x-request-id'], problem.request_id);
    return problem;
  };

  const accessLog = () =>
    readFileSync(join(dir, 'logs', 'access.json'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  before(async () => {
    app = await startTestApp({ LOG_LEVEL: 'info' }, undefined, { console: appConsole });
    dir = mkdtempSync(join(tmpdir(), 'mymonit-nginx-'));
    for (const sub of ['logs', 'tls', 'temp']) mkdirSync(join(dir, sub));
    execFileSync(join(nginxDir, 'make-dev-cert.sh'), [join(dir, 'tls'), 'localhost']);
    certificate = readFileSync(join(dir, 'tls', 'tls.crt'));
    [httpPort, httpsPort] = [await freePort(), await freePort()];
    const server = renderTemplate(readFileSync(join(nginxDir, 'templates', 'mymonit.conf.template'), 'utf8'), {
      APP_UPSTREAM: new URL(app.baseUrl).host,
      SERVER_NAME: 'localhost',
      HTTP_PORT: String(httpPort),
      HTTPS_PORT: String(httpsPort),
      TLS_CERTIFICATE: join(dir, 'tls', 'tls.crt'),
      TLS_CERTIFICATE_KEY: join(dir, 'tls', 'tls.key'),
      NGINX_LOG_DIR: join(dir, 'logs'),
      RATE_LIMIT: '10r/s',
      RATE_LIMIT_BURST: '20',
    });
    assert.doesNotMatch(server, /\$\{[A-Z_]+\}/, 'every template variable is rendered');
    writeFileSync(join(dir, 'mymonit.conf'), server);
    const temp = join(dir, 'temp');
    writeFileSync(
      join(dir, 'nginx.conf'),
      [
        'daemon off;',
        process.getuid?.() === 0 ? 'user root;' : '',
        'worker_processes 1;',
        `pid ${join(dir, 'nginx.pid')};`,
        `error_log ${join(dir, 'logs', 'error.log')} warn;`,
        'events { worker_connections 256; }',
        'http {',
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(temp, t)};`),
        `  include ${join(dir, 'mymonit.conf')};`,
        '}',
      ].join('\n'),
    );
    execFileSync(NGINX!, ['-t', '-q', '-c', join(dir, 'nginx.conf'), '-p', dir]);
    nginx = spawn(NGINX!, ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
    await eventually(async () => (await https('/health').catch(() => null))?.status === 200, 10_000, 'nginx on HTTPS');
  });

  after(async () => {
    nginx?.kill('SIGTERM');
    if (!appStopped) await app?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('When a client calls over HTTPS, then the self-signed certificate verifies, the app answers and HSTS is set', async () => {
    const answer = await https('/health');
    assert.equal(answer.status, 200);
    assert.deepEqual(JSON.parse(answer.body), { status: 'ok' });
    const hsts = String(answer.headers['strict-transport-security']);
    assert.match(hsts, /max-age=(\d+)/);
    assert.ok(Number(/max-age=(\d+)/.exec(hsts)![1]) >= 31_536_000, 'HSTS for at least a year');
    assert.equal(answer.headers.server, 'nginx', 'no version in Server');
  });

  it('When a client offers only TLS 1.1, then the handshake is refused; TLS 1.2 and 1.3 work', async () => {
    const handshake = (minVersion: 'TLSv1' | 'TLSv1.2' | 'TLSv1.3', maxVersion: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3') =>
      new Promise<string>((resolve, reject) => {
        const socket = tlsConnect({
          host: '127.0.0.1',
          port: httpsPort,
          servername: 'localhost',
          ca: certificate,
          minVersion,
          maxVersion,
          ciphers: 'DEFAULT@SECLEVEL=0',
        });
        socket.once('secureConnect', () => {
          resolve(socket.getProtocol() ?? '');
          socket.end();
        });
        socket.once('error', reject);
      });
    await assert.rejects(handshake('TLSv1', 'TLSv1.1'));
    assert.equal(await handshake('TLSv1.2', 'TLSv1.2'), 'TLSv1.2');
    assert.equal(await handshake('TLSv1.3', 'TLSv1.3'), 'TLSv1.3');
  });

  it('When a client calls over plain HTTP, then it is redirected to HTTPS with the same path', async () => {
    const answer = await new Promise<Answer>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port: httpPort, path: '/experiments?limit=5', headers: { host: 'mymonit.example' } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: '' }));
      })
        .on('error', reject)
        .end();
    });
    assert.equal(answer.status, 301);
    assert.equal(answer.headers.location, 'https://mymonit.example/experiments?limit=5');
    assert.match(String(answer.headers['x-request-id']), /^[0-9a-f]{32}$/);
  });

  it('When /metrics is asked through the proxy, whatever its spelling, then 404, while the app serves it on the internal network', async () => {
    for (const path of ['/metrics', '/metrics/', '/METRICS', '/Metrics?x=1', '//metrics', '/metrics/.']) {
      assertProxyProblem(await https(path), 404);
    }
    assert.equal((await fetch(`${app.baseUrl}/metrics`)).status, 200);
    // The app's own rule, whatever the proxy's: a forwarded request gets no metrics.
    assert.equal((await fetch(`${app.baseUrl}/METRICS/`, { headers: { 'x-forwarded-for': '203.0.113.7' } })).status, 404);
  });

  it('When a request passes the proxy, then its request id is the same in the response, the access log and the app log', async () => {
    const answer = await https('/health');
    const requestId = String(answer.headers['x-request-id']);
    assert.match(requestId, /^[0-9a-f]{32}$/, 'nginx made the id');
    await eventually(() => accessLog().some((l) => l.request_id === requestId), 5_000, 'the access log line');
    const logged = accessLog().find((l) => l.request_id === requestId)!;
    assert.deepEqual([logged.method, logged.uri, logged.status, logged.tls_protocol], ['GET', '/health', 200, 'TLSv1.3']);
    await eventually(() => appConsole.lines.some((l) => l.includes(`"requestId":"${requestId}"`)), 5_000, 'the app log line');

    const own = await https('/health', { 'x-request-id': 'client-chosen.id-42' });
    assert.equal(own.headers['x-request-id'], 'client-chosen.id-42');
    const bad = await https('/health', { 'x-request-id': 'no spaces <allowed>' });
    assert.match(String(bad.headers['x-request-id']), /^[0-9a-f]{32}$/);
  });

  it('When a client sends its own X-Forwarded-For, then the app logs the address nginx saw, not the claimed one', async () => {
    const answer = await https('/health', { 'x-forwarded-for': '203.0.113.9' });
    const requestId = String(answer.headers['x-request-id']);
    await eventually(() => appConsole.lines.some((l) => l.includes(requestId)), 5_000, 'the app log line');
    const line = appConsole.lines.find((l) => l.includes(requestId))!;
    assert.match(line, /"ip":"127\.0\.0\.1"/);
    assert.doesNotMatch(line, /203\.0\.113\.9/);
  });

  it('When one client sends far more than the rate limit allows, then the excess gets 429 and never reaches the app', async () => {
    const before = appConsole.lines.filter((l) => l.includes('"route":"/health"')).length;
    const answers = await Promise.all(Array.from({ length: 100 }, () => https('/health')));
    const statuses = answers.map((a) => a.status);
    const limited = statuses.filter((s) => s === 429).length;
    const served = statuses.filter((s) => s === 200).length;
    assert.equal(limited + served, 100);
    assert.ok(limited >= 60, `${limited} of 100 limited (rate 10/s, burst 20)`);
    const refused = answers.find((a) => a.status === 429)!;
    assertProxyProblem(refused, 429);
    assert.equal(refused.headers['retry-after'], '1');
    assert.ok(refused.headers['strict-transport-security']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const reached = appConsole.lines.filter((l) => l.includes('"route":"/health"')).length - before;
    assert.equal(reached, served, 'only the served requests reached the app');
  });

  it('When a body is larger than the proxy takes, then nginx answers 413 problem+json with the request id', async () => {
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // the rate limit of the test above refills
    const answer = await https('/experiments', { 'content-type': 'application/json' }, 'POST', Buffer.alloc(3 * 1024 * 1024, 0x20));
    assertProxyProblem(answer, 413);
    assert.ok(answer.headers['strict-transport-security']);
  });

  it('When the app is down, then nginx answers 502 problem+json with Retry-After, not its HTML page', async () => {
    await app.stop();
    appStopped = true;
    const answer = await https('/health');
    assertProxyProblem(answer, 502);
    assert.equal(answer.headers['retry-after'], '5');
  });
});
