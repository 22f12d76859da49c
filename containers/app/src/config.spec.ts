import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, describeConfig, loadConfig, rabbitEndpoint } from './config';

const minimal = { FIREBASE_PROJECT_ID: 'demo-mymonit' };

describe('loadConfig', () => {
  it('When only the Firebase project is set, then the defaults of the specification apply', () => {
    const config = loadConfig(minimal);
    assert.deepEqual(config.db, {
      host: 'localhost',
      port: 3306,
      user: 'root',
      password: 'password',
      database: 'my_monit',
      poolSize: 10,
    });
    assert.equal(config.rabbit.url, 'amqp://guest:guest@localhost');
    assert.deepEqual(
      { exchange: config.rabbit.exchange, routingKey: config.rabbit.routingKey, queue: config.rabbit.queue },
      { exchange: 'mymonit', routingKey: 'measures', queue: 'measures' },
    );
    assert.deepEqual(config.rest, { host: '0.0.0.0', port: 5000 });
    assert.equal(config.workers, 1);
    assert.deepEqual(config.logstash, { enabled: true, host: 'localhost', port: 5959, bufferLines: 20_000 });
  });

  it('When DB_PASSWORD is empty, then it is an empty password, not the default', () => {
    assert.equal(loadConfig({ ...minimal, DB_PASSWORD: '' }).db.password, '');
  });

  it('When RABBIT_URL is a full URL, then its credentials win and the endpoint hides them', () => {
    const config = loadConfig({ ...minimal, RABBIT_URL: 'amqps://bob:s3cret@broker:5671/vhost' });
    assert.equal(config.rabbit.url, 'amqps://bob:s3cret@broker:5671/vhost');
    assert.equal(rabbitEndpoint(config), 'amqps://broker:5671/vhost');
  });

  it('When several values are wrong, then one error names every one of them', () => {
    assert.throws(
      () =>
        loadConfig({
          DB_PORT: 'abc',
          REST_PORT: '70000',
          DB_DATABASE: 'my-db; drop',
          LOG_LEVEL: 'loud',
          RABBIT_EXCHANGE: 'has space',
          APP_WORKERS: '0',
        }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        const named = error.problems.map((p) => p.split(':')[0]);
        for (const name of ['DB_PORT', 'REST_PORT', 'DB_DATABASE', 'LOG_LEVEL', 'RABBIT_EXCHANGE', 'APP_WORKERS', 'FIREBASE_PROJECT_ID']) {
          assert.ok(named.includes(name), `${name} named in ${error.message}`);
        }
        assert.match(error.message, /DB_PORT: .*\(got "abc"\)/);
        return true;
      },
    );
  });

  it('When a password is invalid, then its value is not echoed', () => {
    assert.throws(
      () => loadConfig({ ...minimal, DB_PASSWORD: 123 as unknown as string }),
      (error: ConfigError) => !error.message.includes('123') && /DB_PASSWORD/.test(error.message),
    );
  });

  it('When NODE_ENV=production and the Auth Emulator is set, then start-up is refused', () => {
    assert.throws(
      () => loadConfig({ ...minimal, NODE_ENV: 'production', FIREBASE_AUTH_EMULATOR_HOST: '127.0.0.1:9099' }),
      /FIREBASE_AUTH_EMULATOR_HOST: must not be set when NODE_ENV=production/,
    );
  });

  it('When the configuration is described for the log, then no secret appears', () => {
    const config = loadConfig({
      ...minimal,
      DB_PASSWORD: 'db-secret',
      RABBIT_PASSWORD: 'rabbit-secret',
      GOOGLE_APPLICATION_CREDENTIALS: '/run/secrets/sa.json',
    });
    const text = JSON.stringify(describeConfig(config));
    for (const secret of ['db-secret', 'rabbit-secret', '/run/secrets/sa.json']) assert.ok(!text.includes(secret));
    assert.match(text, /"password":"\*\*\*"/);
  });
});
