import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/amqp';
import { startAppProcess, type AppProcess } from '../support/app-process';
import { dropDatabase, removeTopology, testEnvironment } from '../support/test-app';
import { loadConfig } from '../../src/config';

/**
 * Replays the final stage of containers/app/Dockerfile without Docker: the
 * same `npm ci` line in an empty directory holding only the package files,
 * the compiled dist/, and nothing else; then the app must start and serve
 * from there. A runtime dependency left in devDependencies fails here.
 */
const root = join(__dirname, '..', '..', '..', '..');
const dockerfile = readFileSync(join(root, 'containers/app/Dockerfile'), 'utf8');
const runtimeStage = dockerfile.split(/^FROM /m).at(-1)!;
const install = /RUN (npm ci --omit=dev[^\\\n]*)/.exec(runtimeStage)![1].trim();

describe('The production image, replayed without Docker', () => {
  let dir: string;
  let app: AppProcess;
  const env = testEnvironment();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mymonit-image-'));
    // The stage's own COPY lines: package files from the context, dist/ folders from the build stage.
    // eslint-disable-next-line security/detect-unsafe-regex -- one optional group, anchored per line
    for (const [, from, args] of runtimeStage.matchAll(/^COPY (--from=\S+ )?(.+)$/gm)) {
      const parts = args.trim().split(/\s+/);
      const target = parts.pop()!;
      if (from) {
        // /src/<package>/dist: built here as its stage builds it (Vite for the web page, tsc otherwise).
        const packageDir = join(root, parts[0].replace(/^\/src\//, '').replace(/\/dist$/, ''));
        const vite = existsSync(join(packageDir, 'vite.config.ts'));
        const [tool, args] = vite
          ? [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), ['build', '--outDir', join(dir, target), '--emptyOutDir', '--logLevel', 'warn']]
          : [require.resolve('typescript/bin/tsc'), ['-p', 'tsconfig.build.json', '--outDir', join(dir, target)]];
        execFileSync(process.execPath, [tool, ...args], { cwd: packageDir, stdio: 'pipe' });
        continue;
      }
      for (const source of parts) {
        const destination = target.endsWith('/') ? join(dir, target, source.split('/').at(-1)!) : join(dir, target);
        mkdirSync(join(destination, '..'), { recursive: true });
        copyFileSync(join(root, source), destination);
      }
    }
    // Offline from npm's cache, which the project's own `npm ci` filled.
    execFileSync('sh', ['-c', `${install} --prefer-offline --ignore-scripts`], { cwd: dir, stdio: 'pipe' });
    app = await startAppProcess({ ...env, LOG_LEVEL: 'info' }, [], join(dir, 'containers/app/dist/main.js'));
  });

  after(async () => {
    await app?.stop();
    const config = loadConfig(env);
    await dropDatabase(config);
    await removeTopology(config);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('When only production dependencies are installed, then none of the dev tools is there', () => {
    assert.match(install, /--omit=dev/);
    for (const tool of ['tsx', 'typescript', 'firebase-tools', 'eslint']) {
      assert.throws(() => require.resolve(tool, { paths: [join(dir, 'containers/app')] }), `${tool} must not be installed`);
    }
  });

  it('When the app starts from that directory, then it is ready and serves its API and docs', async () => {
    // /health answers as soon as HTTP listens; the broker connection follows.
    await eventually(async () => (await fetch(`${app.baseUrl}/ready`)).status === 200, 15_000, '/ready to answer 200');
    assert.equal((await fetch(`${app.baseUrl}/openapi.json`)).status, 200);
    const docs = await fetch(`${app.baseUrl}/docs/`);
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger-ui/);
    const page = await fetch(`${app.baseUrl}/`);
    assert.equal(page.status, 200, 'the web page is in the image');
    assert.match(await page.text(), /<script type="module"[^>]*src="\.\/assets\//);
  });
});
