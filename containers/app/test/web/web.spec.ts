import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { AmqpClient, eventually } from '../support/amqp';
import { signUp } from '../support/identities';
import { rememberPersonalData } from '../support/log-capture';
import { startTestApp, type TestApp } from '../support/test-app';
import { associate, createAdmin, createExperiment, storeMeasures, type Person } from '../support/world';

/**
 * The web page (containers/web) in Debian's Chromium, against the whole app
 * (in-process, its own database and AMQP names, the Firebase Auth Emulator):
 * register, sign in, experiments, plot, live updates, CSV, administration,
 * errors in words. Screenshots of the main pages go to docs/screenshots.
 */

const REPO = join(__dirname, '..', '..', '..', '..');
const WEB = join(REPO, 'containers', 'web');
const DIST = join(WEB, 'dist');
const SCREENSHOTS = join(REPO, 'docs', 'screenshots');
const PASSWORD = 'correct horse battery';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const NOT_ENABLED = 'Your account is not yet enabled: ask an administrator to add you. Your user id for them:';
const NO_EXPERIMENT = 'This experiment does not exist or you are not associated with it.';
const NO_ACCESS = 'You do not have access: ask an administrator to give you access.';
const SESSION_EXPIRED = 'Your session has expired: sign in again.';

/** Builds the page the way a fresh clone would (dist/ is not committed). */
function buildWebPage(): void {
  const viteBin = join(dirname(require.resolve('vite/package.json', { paths: [WEB] })), 'bin', 'vite.js');
  execFileSync(process.execPath, [viteBin, 'build', '--logLevel', 'warn'], { cwd: WEB, stdio: 'inherit' });
  assert.ok(existsSync(join(DIST, 'index.html')), 'vite build must write containers/web/dist/index.html');
}

/** Measures of the last 3 hours every 10 s, and hourly ones over the last 10 days, of two sensors. */
function benchMeasures(now: number) {
  const end = Math.floor(now / SECOND) * SECOND - 30 * SECOND;
  const recent = Array.from({ length: 1080 }, (_, i) => end - i * 10 * SECOND);
  const older = Array.from({ length: 240 }, (_, i) => end - 3 * HOUR - (i + 1) * HOUR);
  return [...recent, ...older].flatMap((timestamp, i) => [
    { sensor: 'cryo/temp', timestamp, value: Math.round((4.2 + 0.15 * Math.sin(i / 40)) * 1000) / 1000, unit: 'K', tags: null },
    { sensor: 'cryo/pressure', timestamp, value: Math.round((1013 + 2 * Math.cos(i / 55)) * 100) / 100, unit: 'mbar', tags: i === 0 ? { run: '7' } : null },
  ]);
}

describe('Web page (Chromium)', { skip: !existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)` }, () => {
  let app: TestApp;
  let admin: Person;
  let browser: Browser;
  let scientistContext: BrowserContext;
  let page: Page;
  let scientistUid = '';
  const consoleProblems: string[] = [];

  const screenshot = (target: Page, name: string) => target.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });

  async function newPage(context: BrowserContext): Promise<Page> {
    const created = await context.newPage();
    created.on('console', (message) => {
      // Answers of 4xx the page shows in words also appear as "Failed to load resource": expected.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
        consoleProblems.push(message.text());
      }
    });
    created.on('pageerror', (error) => consoleProblems.push(`page error: ${error.message}`));
    return created;
  }

  async function signInThroughPage(target: Page, email: string): Promise<void> {
    await target.goto(`${app.baseUrl}/#/experiments`);
    await target.getByRole('heading', { name: 'Sign in' }).waitFor();
    await target.getByLabel('Email').fill(email);
    await target.getByLabel('Password').fill(PASSWORD);
    await target.getByRole('button', { name: 'Sign in', exact: true }).click();
    await target.getByRole('heading', { name: 'Experiments' }).waitFor();
  }

  /** The words on the page: never a problem+json body. */
  async function assertNoRawJson(target: Page): Promise<void> {
    const text = await target.locator('body').innerText();
    assert.doesNotMatch(text, /urn:mymonit|"status"|"detail"|\{"/, `raw JSON on the page: ${text}`);
  }

  const sensorRow = (target: Page, sensor: string) => target.locator(`#sensors tr[data-sensor="${sensor}"]`);

  before(async () => {
    buildWebPage();
    mkdirSync(SCREENSHOTS, { recursive: true });
    app = await startTestApp({ WEB_ROOT: DIST });
    admin = await createAdmin(app);
    await createExperiment(app, admin, 'EXP-A');
    await createExperiment(app, admin, 'EXP-B');
    await storeMeasures(app, 'EXP-A', benchMeasures(Date.now()));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    scientistContext = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true, locale: 'en-GB' });
    page = await newPage(scientistContext);
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('When the page opens signed out, then it shows the sign-in form with labelled inputs', async () => {
    await page.goto(app.baseUrl);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(await page.getByLabel('Email').getAttribute('type'), 'email');
    assert.equal(await page.getByLabel('Password').getAttribute('type'), 'password');
    await screenshot(page, 'sign-in');
    // Keyboard: the skip link comes first.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement.textContent'), 'Skip to content');
  });

  it('When a password reset is asked, then the page says a link is on its way', async () => {
    await page.getByRole('button', { name: 'Forgot your password?' }).click();
    await page.getByRole('heading', { name: 'Reset your password' }).waitFor();
    await page.getByLabel('Email').fill(admin.identity.email);
    await page.getByRole('button', { name: 'Send the reset link' }).click();
    await eventually(async () => /a reset link is on its way/.test(await page.locator('#messages').innerText()), 5000, 'the reset message');
    await page.getByRole('button', { name: 'Back to sign in' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  });

  it('When a new identity registers, then the page says it is not yet enabled and shows its uid', async () => {
    const email = `new-scientist-${randomUUID().slice(0, 8)}@test.mymonit.example`;
    rememberPersonalData(email);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Repeat the password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create the account' }).click();
    const notice = page.locator('#not-enabled');
    await notice.waitFor();
    assert.ok((await notice.innerText()).startsWith(NOT_ENABLED), await notice.innerText());
    scientistUid = (await page.locator('#uid').innerText()).trim();
    assert.match(scientistUid, /^[A-Za-z0-9]{10,}$/);
    rememberPersonalData(scientistUid);
    await screenshot(page, 'not-enabled');
  });

  it('When an admin creates that user, then after a reload they see only the experiments they are associated with', async () => {
    const created = await app.api.post(
      '/users',
      { user_id: 'S1', name: 'Ada Scientist', username: scientistUid, email: `s1-${randomUUID().slice(0, 8)}@test.mymonit.example`, role: 'SCIENTIST' },
      { token: admin.token },
    );
    assert.equal(created.status, 201, created.text);
    await associate(app, admin, 'EXP-A', 'S1');
    await page.reload();
    const table = page.locator('#experiments');
    await table.getByRole('link', { name: 'EXP-A' }).waitFor();
    assert.equal(await table.getByRole('link', { name: 'EXP-B' }).count(), 0);
    assert.equal(await page.getByRole('link', { name: 'Users' }).count(), 0, 'a scientist has no admin menu');
    await screenshot(page, 'experiments');
  });

  it('When the experiment is opened, then the sensors table and the uPlot plot show its measures', async () => {
    await page.locator('#experiments').getByRole('link', { name: 'EXP-A' }).click();
    await page.getByRole('heading', { name: 'Experiment EXP-A' }).waitFor();
    await page.locator('#plot .uplot canvas').waitFor();
    const temp = sensorRow(page, 'cryo/temp');
    assert.equal(await temp.locator('.count').innerText(), '1,320');
    assert.equal(await temp.locator('.unit').innerText(), 'K');
    assert.match(await temp.locator('.last-value').innerText(), /^4\.\d+$/);
    assert.equal(await sensorRow(page, 'cryo/pressure').locator('.unit').innerText(), 'mbar');
    // 24 hours of 10 s measures is more than 1000 points a sensor: averages of buckets.
    await eventually(async () => /averages per 2 minutes/.test(await page.locator('#plot-status').innerText()), 10_000, 'the summary plot');
    assert.equal(await page.getByRole('button', { name: 'Last 24 hours' }).getAttribute('aria-pressed'), 'true');
    await page.screenshot({ path: join(SCREENSHOTS, 'experiment-summary.png'), fullPage: true });
    // The last hour is 360 measures a sensor: every one of them.
    await page.getByRole('button', { name: 'Last hour' }).click();
    await eventually(async () => /\(every measure\)/.test(await page.locator('#plot-status').innerText()), 10_000, 'the raw plot');
    assert.match(await page.locator('#plot-status').innerText(), /^7\d\d measures/);
    await screenshot(page, 'experiment');

    // A phone: the plot shrinks to the screen.
    await page.setViewportSize(PHONE);
    await eventually(async () => ((await page.locator('#plot .uplot').boundingBox())?.width ?? 999) <= PHONE.width, 5000, 'the plot to fit a phone');
    await screenshot(page, 'experiment-phone');
    await page.setViewportSize(DESKTOP);
    await eventually(async () => ((await page.locator('#plot .uplot').boundingBox())?.width ?? 0) > 1000, 5000, 'the plot to fit a laptop');
  });

  it('When the user drags over the plot, then it zooms in on that span and refetches it', async () => {
    const box = (await page.locator('#plot .u-over').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await page.getByRole('button', { name: 'Reset zoom' }).waitFor();
    await eventually(async () => /^1\d\d measures/.test(await page.locator('#plot-status').innerText()), 10_000, 'the zoomed plot').catch(async (e) => {
      throw new Error(`${e}: ${await page.locator('#plot-status').innerText()}`);
    });
    assert.equal(await page.getByRole('button', { name: 'Last hour' }).getAttribute('aria-pressed'), 'false');
    await page.getByRole('button', { name: 'Reset zoom' }).click();
    await eventually(async () => (await page.getByRole('button', { name: 'Last hour' }).getAttribute('aria-pressed')) === 'true', 5000, 'the range before the zoom');
  });

  it('When a measure is published over AMQP, then the sensors table shows it without a reload', async () => {
    await page.locator('.live-badge[data-state="live"]').waitFor();
    const client = await AmqpClient.connect(app.config);
    try {
      const timestamp = new Date().toISOString();
      await client.publish([
        [
          { experiment_id: 'EXP-A', sensor: 'cryo/temp', value: 77.125, unit: 'K', timestamp },
          { experiment_id: 'EXP-A', sensor: 'cryo/level', value: 42, unit: '%', timestamp },
        ],
      ]);
    } finally {
      await client.close();
    }
    const temp = sensorRow(page, 'cryo/temp');
    await eventually(async () => (await temp.locator('.last-value').innerText()) === '77.125', 15_000, 'the live value');
    assert.equal(await temp.locator('.count').innerText(), '1,321');
    assert.equal(await sensorRow(page, 'cryo/level').locator('.last-value').innerText(), '42');
  });

  it('When Download CSV is clicked, then the measures of the shown range download as CSV', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    assert.equal(download.suggestedFilename(), 'EXP-A-measures.csv');
    const lines = readFileSync(await download.path(), 'utf8').trim().split(/\r?\n/);
    assert.equal(lines[0], 'timestamp,sensor,value,unit,tags');
    // The last hour of the two plotted sensors (360 each, one hourly measure, the live one).
    assert.ok(lines.length > 700 && lines.length < 740, `${lines.length} lines`);
    const sensors = new Set(lines.slice(1).map((line) => line.split(',')[1]));
    assert.deepEqual([...sensors].sort(), ['cryo/pressure', 'cryo/temp']);
    assert.ok(lines.some((line) => line.includes(',cryo/temp,77.125,K,')), 'the live measure is in the file');
  });

  it('When a scientist opens an experiment not theirs or an admin page, or is erased meanwhile, then they read words, not JSON', async () => {
    const pageError = async (expected: string) =>
      eventually(async () => (await page.locator('#page-error').innerText().catch(() => '')) === expected, 5000, expected);
    await page.goto(`${app.baseUrl}/#/experiments/EXP-B`);
    await pageError(NO_EXPERIMENT);
    await assertNoRawJson(page);
    await page.goto(`${app.baseUrl}/#/admin/users`);
    await pageError(NO_ACCESS);
    await page.goto(`${app.baseUrl}/#/experiments/NO-SUCH-EXPERIMENT`);
    await pageError(NO_EXPERIMENT);

    // A real 403 of the API: the admin erases the scientist while their page is open.
    assert.equal((await app.api.delete('/users/S1', { token: admin.token })).status, 204);
    await page.goto(`${app.baseUrl}/#/experiments`);
    await pageError(NO_ACCESS);
    assert.match(await page.locator('#messages').innerText(), new RegExp(NO_ACCESS.replace('.', '\\.')));
    await assertNoRawJson(page);
  });

  it('When the scientist signs out, then the sign-in form shows', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.match(await page.locator('#messages').innerText(), /You are signed out/);
  });

  describe('Administration', () => {
    let adminPage: Page;
    let context: BrowserContext;
    let newcomerUid = '';

    before(async () => {
      context = await browser.newContext({ viewport: DESKTOP, locale: 'en-GB' });
      adminPage = await newPage(context);
      await signInThroughPage(adminPage, admin.identity.email);
      newcomerUid = (await signUp('s7')).uid;
    });
    after(async () => context?.close());

    it('When a user is added with an invalid id, then the field says why; corrected, the user is listed', async () => {
      await adminPage.getByRole('link', { name: 'Users' }).click();
      await adminPage.getByRole('heading', { name: 'Users', exact: true }).waitFor();
      const form = adminPage.locator('#create-user');
      const email = `s7-${randomUUID().slice(0, 8)}@test.mymonit.example`;
      rememberPersonalData(email, 'Grace Seven');
      await form.getByLabel('User id', { exact: true }).fill('bad id!');
      await form.getByLabel('Name').fill('Grace Seven');
      await form.getByLabel('Firebase user id').fill(newcomerUid);
      await form.getByLabel('Email').fill(email);
      await form.getByLabel('Role').selectOption('SCIENTIST');
      await form.getByRole('button', { name: 'Add the user' }).click();
      const error = form.locator('.field-error');
      await error.waitFor();
      assert.match(await error.innerText(), /must be 1-64 characters/);
      assert.equal(await form.getByLabel('User id', { exact: true }).getAttribute('aria-invalid'), 'true');
      assert.match(await form.locator('.form-error').innerText(), /Please correct the field marked below/);
      await assertNoRawJson(adminPage);

      await form.getByLabel('User id', { exact: true }).fill('S7');
      await form.getByRole('button', { name: 'Add the user' }).click();
      await adminPage.locator('#users tr[data-user="S7"]').waitFor();
      assert.equal(await form.locator('.field-error').count(), 0);
      const listed = await app.api.get('/users/S7', { token: admin.token });
      assert.equal(listed.body.username, newcomerUid);
      await screenshot(adminPage, 'admin-users');
    });

    it('When a user is edited in the dialog, then the list shows the change', async () => {
      await adminPage.getByRole('button', { name: 'Edit user S7' }).click();
      const dialog = adminPage.getByRole('dialog', { name: 'Edit user S7' });
      await dialog.getByLabel('Name').fill('Grace Hopper-Seven');
      rememberPersonalData('Grace Hopper-Seven');
      await dialog.getByRole('button', { name: 'Save' }).click();
      await eventually(
        async () => (await adminPage.locator('#users tr[data-user="S7"]').innerText()).includes('Grace Hopper-Seven'),
        5000,
        'the edited name',
      );
      assert.equal((await app.api.get('/users/S7', { token: admin.token })).body.name, 'Grace Hopper-Seven');
    });

    it('When an experiment is created and a user given access through the page, then the API has both', async () => {
      await adminPage.getByRole('link', { name: 'Manage experiments' }).click();
      const form = adminPage.locator('#create-experiment');
      await form.getByLabel('Experiment id').fill('EXP-C');
      await form.getByLabel('Name').fill('Cryostat C');
      await form.getByLabel('Description').fill('Bench C, second floor');
      await form.getByRole('button', { name: 'Create the experiment' }).click();
      await adminPage.getByRole('heading', { name: 'Cryostat C (EXP-C)' }).waitFor();
      await adminPage.locator('#add-association').getByLabel('User').selectOption('S7');
      await adminPage.getByRole('button', { name: 'Give access' }).click();
      await adminPage.locator('#members tr[data-user="S7"]').waitFor();
      const members = await app.api.get('/experiments/EXP-C/users', { token: admin.token });
      assert.deepEqual(members.body.items.map((u: { user_id: string }) => u.user_id), ['S7']);
      await screenshot(adminPage, 'admin-experiment');

      await adminPage.getByRole('button', { name: 'Remove user S7 from experiment EXP-C' }).click();
      await adminPage.getByRole('dialog').getByRole('button', { name: 'Remove access' }).click();
      await eventually(async () => (await adminPage.locator('#members tr[data-user="S7"]').count()) === 0, 5000, 'the removal');
      assert.deepEqual((await app.api.get('/experiments/EXP-C/users', { token: admin.token })).body.items, []);
      await adminPage.locator('#add-association').getByLabel('User').selectOption('S7');
      await adminPage.getByRole('button', { name: 'Give access' }).click();
      await adminPage.locator('#members tr[data-user="S7"]').waitFor();
    });

    it('When a user is erased, then the page asks first, and Cancel keeps them', async () => {
      await adminPage.getByRole('link', { name: 'Users' }).click();
      await adminPage.getByRole('button', { name: 'Erase user S7' }).click();
      const dialog = adminPage.getByRole('dialog', { name: 'Erase user S7?' });
      await dialog.waitFor();
      // The safe choice has the focus; Escape cancels.
      assert.equal(await adminPage.locator(':focus').innerText(), 'Cancel');
      await adminPage.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      assert.equal((await app.api.get('/users/S7', { token: admin.token })).body.erased_at, null);

      await adminPage.getByRole('button', { name: 'Erase user S7' }).click();
      await dialog.getByRole('button', { name: 'Erase the user' }).click();
      await adminPage.locator('#users tr[data-user="S7"]').waitFor({ state: 'detached' });
      const erased = await app.api.get('/users/S7', { token: admin.token });
      assert.notEqual(erased.body.erased_at, null);
      assert.deepEqual((await app.api.get('/experiments/EXP-C/users', { token: admin.token })).body.items, []);
      await adminPage.getByLabel('Show erased users').check();
      await eventually(async () => /Erased/.test(await adminPage.locator('#users tr[data-user="S7"]').innerText().catch(() => '')), 5000, 'the erased row');
    });

    it('When an experiment with measures is deleted, then the confirmation says so and it goes with its measures', async () => {
      await createExperiment(app, admin, 'EXP-D');
      await storeMeasures(app, 'EXP-D', [{ sensor: 'x', timestamp: Date.now() - MINUTE, value: 1, unit: null, tags: null }]);
      await adminPage.goto(`${app.baseUrl}/#/admin/experiments/EXP-D`);
      await adminPage.getByRole('button', { name: 'Delete the experiment' }).click();
      const dialog = adminPage.getByRole('dialog', { name: 'Delete experiment EXP-D?' });
      assert.match(await dialog.innerText(), /measures of 1 sensor/);
      await dialog.getByRole('button', { name: 'Delete it and its measures' }).click();
      await adminPage.getByRole('heading', { name: 'Manage experiments' }).waitFor();
      assert.match(await adminPage.locator('#messages').innerText(), /Experiment EXP-D was deleted/);
      assert.equal((await app.api.get('/experiments/EXP-D', { token: admin.token })).status, 404);
    });

    it('When the API answers 401, then the page says the session expired and shows the sign-in form', async () => {
      await adminPage.route(/\/experiments\?/, (route) =>
        route.fulfill({
          status: 401,
          contentType: 'application/problem+json',
          body: JSON.stringify({ type: 'urn:mymonit:problem:unauthenticated', title: 'Unauthorized', status: 401, detail: 'token expired' }),
        }),
      );
      await adminPage.getByRole('link', { name: 'Experiments', exact: true }).click();
      await adminPage.getByRole('heading', { name: 'Sign in' }).waitFor();
      assert.match(await adminPage.locator('#messages').innerText(), new RegExp(SESSION_EXPIRED.replace('.', '\\.')));
      await assertNoRawJson(adminPage);
      await adminPage.unroute(/\/experiments\?/);
    });
  });

  it('When the pages ran, then the browser reported no script error nor CSP violation', () => {
    assert.deepEqual(consoleProblems, []);
  });
});
