import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/amqp';
import { startTestApp, type TestApp } from '../support/test-app';
import { createAdmin, createExperiment, type Person } from '../support/world';

/** The README's "by hand" example: Debian's amqp-publish (amqp-tools) sends one measure. */
const AMQP_PUBLISH = '/usr/bin/amqp-publish';
if (!existsSync(AMQP_PUBLISH)) console.warn('\n*** amqp-publish is not installed: SKIPPED (.ci/run installs amqp-tools) ***\n');

describe('Publishing by hand with amqp-publish', { skip: !existsSync(AMQP_PUBLISH) && 'amqp-tools is not installed' }, () => {
  let app: TestApp;
  let admin: Person;
  before(async () => {
    app = await startTestApp();
    admin = await createAdmin(app);
    await createExperiment(app, admin, 'EXP-1');
  });
  after(async () => app?.stop());

  it('When the README command is run, then the measure is stored and readable over REST', async () => {
    const body = '{"experiment_id":"EXP-1","sensor":"magnet/temp","value":4.21,"unit":"K","timestamp":"2026-11-26T10:00:00Z"}';
    execFileSync(AMQP_PUBLISH, [
      '--url', app.config.rabbit.url,
      '-e', app.config.rabbit.exchange,
      '-r', app.config.rabbit.routingKey,
      '-p', '-C', 'application/json',
      '-b', body,
    ]);
    let items: { sensor: string; value: number; unit: string; timestamp: string }[] = [];
    await eventually(async () => {
      items = (await app.api.get('/experiments/EXP-1/measures', { token: admin.token })).body.items;
      return items.length === 1;
    }, 10_000, 'the measure over REST');
    assert.deepEqual(
      { sensor: items[0].sensor, value: items[0].value, unit: items[0].unit, timestamp: items[0].timestamp },
      { sensor: 'magnet/temp', value: 4.21, unit: 'K', timestamp: '2026-11-26T10:00:00.000Z' },
    );
  });
});
