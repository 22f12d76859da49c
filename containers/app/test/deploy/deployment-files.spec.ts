import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { CLOSE_TIMEOUT_MS } from '../../src/application';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config';
import { FLUSH_TIMEOUT_MS } from '../../src/logging/logging';
import { SHUTDOWN_GRACE_MS } from '../../src/rabbit/rabbit-listener';

/**
 * Docker Compose and Kubernetes cannot run on the test machine: these tests
 * read their files and hold them to the app's configuration and to each other.
 */
const root = join(__dirname, '..', '..', '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

type Service = {
  image?: string;
  build?: unknown;
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  healthcheck?: { test: string[] | string };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  restart?: string;
  stop_grace_period?: string;
};

/** The longest the app takes to stop: in-flight batches, closing its connections, two log flushes, and a margin. */
const STOP_SECONDS = (SHUTDOWN_GRACE_MS + CLOSE_TIMEOUT_MS + 2 * FLUSH_TIMEOUT_MS) / 1000 + 5;
const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service>; secrets: Record<string, { file: string }> };
const services = compose.services;
const app = services.app;
const ONE_SHOT = ['elasticsearch-setup', 'kibana-setup'];

/** Compose's `${NAME:-default}` / `${NAME:?message}` / `${NAME}` interpolation, with the given values. */
function interpolate(value: string, env: Record<string, string>): string {
  // eslint-disable-next-line security/detect-unsafe-regex -- one optional group, no nested repetition
  return value.replace(/\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}/g, (_, name: string, kind?: string, rest?: string) => {
    if (env[name] !== undefined && env[name] !== '') return env[name];
    if (kind === '-') return rest ?? '';
    throw new Error(`${name} is required: ${rest}`);
  });
}

const envExample = Object.fromEntries(
  read('.env.example')
    .split('\n')
    .filter((line) => /^[A-Z0-9_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);

describe('docker-compose.yml', () => {
  it('When the services are listed, then the stack has every component, each with a health check and a restart policy', () => {
    for (const name of ['app', 'nginx', 'rabbit', 'mysql', 'elasticsearch', 'logstash', 'kibana', 'filebeat']) {
      const service = services[name];
      assert.ok(service, `service ${name}`);
      assert.ok(service.healthcheck?.test, `${name} has a health check`);
      assert.equal(service.restart, 'unless-stopped', `${name} restarts`);
    }
  });

  it('When the app is stopped, then Compose gives it the time to finish and acknowledge its batches before SIGKILL', () => {
    const grace = /^(\d+)s$/.exec(app.stop_grace_period ?? '')?.[1];
    assert.ok(grace, `stop_grace_period in seconds, got ${app.stop_grace_period}`);
    assert.ok(Number(grace) >= STOP_SECONDS, `${grace} s < ${STOP_SECONDS} s`);
  });

  it('When a service depends on another, then it waits for it to be healthy (or a one-shot job to complete)', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        assert.ok(services[dependency], `${name} depends on unknown ${dependency}`);
        const expected = ONE_SHOT.includes(dependency) ? 'service_completed_successfully' : 'service_healthy';
        assert.equal(condition, expected, `${name} → ${dependency}`);
        if (expected === 'service_healthy') assert.ok(services[dependency].healthcheck, `${dependency} needs a health check`);
      }
    }
    assert.deepEqual(Object.keys(app.depends_on!).sort(), ['logstash', 'mysql', 'rabbit']);
    assert.deepEqual(Object.keys(services.nginx.depends_on!), ['app']);
  });

  it("When the app's environment is read, then every name is one the app reads, and with .env.example it is a valid configuration", () => {
    const names = Object.keys(app.environment!);
    const unknown = names.filter((n) => !CONFIG_VARIABLES.includes(n));
    assert.deepEqual(unknown, [], 'names the app does not read');
    const resolved = Object.fromEntries(Object.entries(app.environment!).map(([k, v]) => [k, interpolate(String(v), envExample)]));
    const config = loadConfig(resolved);
    assert.equal(config.env, 'production');
    assert.equal(config.db.host, 'mysql');
    assert.equal(config.rabbit.queueType, 'quorum');
    assert.deepEqual([config.logstash.host, config.logstash.port], ['logstash', 5959]);
    assert.equal(config.firebase.credentialsFile, '/run/secrets/firebase-service-account');
    assert.equal(config.firebase.emulatorHost, undefined, 'never the emulator in the stack');
    assert.equal(config.firebase.webApiKey, 'your-firebase-web-api-key', 'the web page can sign in');
    assert.ok(Object.keys(compose.secrets).includes('firebase-service-account'));
  });

  it('When a required secret is missing from .env, then Compose refuses to start (no default password anywhere)', () => {
    const text = read('docker-compose.yml');
    for (const secret of ['DB_PASSWORD', 'RABBIT_PASSWORD', 'MYSQL_ROOT_PASSWORD', 'ELASTIC_PASSWORD', 'KIBANA_SYSTEM_PASSWORD']) {
      assert.match(text, new RegExp(`\\$\\{${secret}:\\?`), `${secret} is required`);
      assert.doesNotMatch(text, new RegExp(`\\$\\{${secret}:-`), `${secret} has no default`);
      assert.ok(envExample[secret], `.env.example lists ${secret}`);
    }
    const used = new Set([...text.matchAll(/\$\{([A-Z0-9_]+):\?/g)].map((m) => m[1]));
    for (const name of used) assert.ok(name in envExample, `.env.example lists ${name}`);
  });

  it('When ports are listed, then only 443, 5672 and 5601 are published; the dev override opens the documented others', () => {
    const published = Object.values(services).flatMap((s) => s.ports ?? []);
    assert.deepEqual(published.sort(), ['443:443', '5601:5601', '5672:5672']);
    const dev = parse(read('docker-compose.dev.yml')) as { services: Record<string, Service> };
    const devPorts = Object.values(dev.services).flatMap((s) => s.ports ?? []);
    assert.deepEqual(devPorts.sort(), ['15672:15672', '3306:3306', '5000:5000', '80:80', '9200:9200']);
  });

  it('When the parts meet, then ports and paths agree: proxy → app, app → Logstash, Filebeat → Logstash, health paths', () => {
    const restPort = app.environment!.REST_PORT;
    assert.equal(services.nginx.environment!.APP_UPSTREAM, `app:${restPort}`);
    assert.deepEqual(app.expose, [restPort]);
    assert.match(JSON.stringify(app.healthcheck!.test), new RegExp(`127\\.0\\.0\\.1:${restPort}/ready`));
    assert.match(read('containers/app/Dockerfile'), /HEALTHCHECK[\s\S]*\/health/);
    assert.ok(services.logstash.expose!.includes(app.environment!.LOGSTASH_PORT));
    assert.match(read('containers/logstash/pipeline/mymonit.conf'), new RegExp(`port => ${app.environment!.LOGSTASH_PORT}`));
    assert.equal(services.filebeat.environment!.LOGSTASH_BEATS_HOST, 'logstash:5044');
    assert.match(read('containers/logstash/pipeline/mymonit.conf'), /beats \{[^}]*port => 5044/s);
    // Nginx writes its access log where Filebeat reads it.
    const nginxLogs = services.nginx.environment!.NGINX_LOG_DIR;
    assert.ok(services.nginx.volumes!.includes(`nginx-logs:${nginxLogs}`));
    assert.ok(services.filebeat.volumes!.includes(`nginx-logs:${nginxLogs}:ro`));
    assert.match(read('containers/filebeat/filebeat.yml'), new RegExp(`${nginxLogs}/access\\.json`));
    assert.match(JSON.stringify(services.nginx.healthcheck!.test), new RegExp(`127\\.0\\.0\\.1:${services.nginx.environment!.HTTP_PORT}/nginx-health`));
  });

  it("When the nginx template's variables are listed, then the nginx service and image set every one", () => {
    const template = read('containers/nginx/templates/mymonit.conf.template');
    const variables = [...new Set([...template.matchAll(/\$\{([A-Z_]+)\}/g)].map((m) => m[1]))].sort();
    assert.deepEqual(Object.keys(services.nginx.environment!).sort(), variables);
    const dockerfile = read('containers/nginx/Dockerfile');
    for (const name of variables) assert.match(dockerfile, new RegExp(`\\b${name}=`), `the image defaults ${name}`);
  });
});

describe('containers/app/Dockerfile', () => {
  const dockerfile = read('containers/app/Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);

  it('When read, then it builds in one stage and runs production dependencies only, as a non-root user, with a health check', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    const runtime = stages.at(-1)!;
    assert.match(runtime, /npm ci --omit=dev/);
    assert.doesNotMatch(runtime, /COPY containers\/app\/src/, 'no sources in the final image');
    assert.match(runtime, /^USER node$/m);
    assert.match(runtime, /^HEALTHCHECK /m);
    assert.match(runtime, /CMD \["node", "containers\/app\/dist\/main\.js"\]/);
    assert.match(read('containers/app/tsconfig.build.json'), /"outDir": "dist"/);
    const ignored = read('.dockerignore');
    for (const entry of ['**/node_modules', '.env', '**/*.key']) assert.ok(ignored.includes(entry), `.dockerignore: ${entry}`);
  });
});

describe('Kubernetes manifests', () => {
  const documents = readdirSync(join(root, 'containers/k8s'))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(read(`containers/k8s/${f}`)).map((d): Record<string, any> => ({ file: f, ...(d.toJS() as Record<string, any>) })));
  const find = (kind: string) => documents.find((d) => d.kind === kind && d.file !== 'secret.example.yaml')!;

  it('When the Deployment is read, then probes, port, resources, config and secrets match the app', () => {
    const deployment = find('Deployment');
    const container = deployment.spec.template.spec.containers[0];
    const config = find('ConfigMap').data as Record<string, string>;
    const port = container.ports.find((p: { name: string }) => p.name === 'http').containerPort;
    assert.equal(String(port), config.REST_PORT);
    assert.ok(config.FIREBASE_WEB_API_KEY, 'the web page can sign in');
    assert.equal(container.readinessProbe.httpGet.path, '/ready');
    assert.equal(container.livenessProbe.httpGet.path, '/health');
    assert.ok(container.resources.requests.cpu, 'a CPU request (the HPA needs one)');
    assert.ok(container.resources.limits.memory);
    assert.ok(deployment.spec.replicas >= 2, 'several replicas');
    assert.equal(deployment.spec.template.spec.securityContext.runAsNonRoot, true);
    assert.ok(deployment.spec.template.spec.terminationGracePeriodSeconds >= STOP_SECONDS, 'time to stop before SIGKILL');

    const fromSecrets = container.env.map((e: { name: string }) => e.name) as string[];
    const names = [...Object.keys(config), ...fromSecrets];
    assert.deepEqual(names.filter((n) => !CONFIG_VARIABLES.includes(n)), [], 'names the app does not read');
    for (const secret of ['DB_PASSWORD', 'RABBIT_PASSWORD']) {
      assert.ok(fromSecrets.includes(secret), `${secret} from a Secret`);
      assert.equal(config[secret], undefined, `${secret} not in the ConfigMap`);
    }
    const resolved = loadConfig({ ...config, DB_USER: 'u', DB_PASSWORD: 'p', RABBIT_USER: 'u', RABBIT_PASSWORD: 'p' });
    assert.equal(resolved.rabbit.queueType, 'quorum');
    const mount = container.volumeMounts.find((m: { name: string }) => m.name === 'firebase').mountPath as string;
    assert.ok(config.GOOGLE_APPLICATION_CREDENTIALS.startsWith(`${mount}/`), 'the credentials file is where the Secret is mounted');
  });

  it('When the Service, HPA and Ingress are read, then they point at the Deployment and its port', () => {
    const deployment = find('Deployment');
    const service = find('Service');
    assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
    assert.equal(service.spec.ports[0].targetPort, 'http');
    const hpa = find('HorizontalPodAutoscaler');
    assert.equal(hpa.spec.scaleTargetRef.name, deployment.metadata.name);
    assert.equal(hpa.spec.metrics[0].resource.name, 'cpu');
    const ingress = find('Ingress');
    assert.ok(ingress.spec.tls?.length, 'TLS');
    assert.equal(ingress.spec.rules[0].http.paths[0].backend.service.name, service.metadata.name);
    const kustomization = parse(read('containers/k8s/kustomization.yaml')) as { resources: string[] };
    assert.ok(!kustomization.resources.includes('secret.example.yaml'), 'the example Secret is never applied');
  });
});
