import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

/**
 * Run last by scripts/run-tests.mjs, after every other spec: reads every log
 * line the run's apps wrote (console files and what reached the run's
 * Logstash listener) and every personal value the tests gave their users
 * (emails, names, Firebase uids), and fails if any value appears in any line.
 */
const dir = process.env.TEST_LOG_DIR;
/** Shorter values (e.g. a one-letter name in a validation test) would match by chance. */
const MIN_LENGTH = 5;

describe('Personal data in the logs of the whole test run', { skip: !dir && 'run through npm test' }, () => {
  const read = (file: string) => readFileSync(join(dir!, file), 'utf8');
  const files = dir ? readdirSync(dir) : [];
  const consoleLines = files.filter((f) => f.startsWith('console-') || f.startsWith('children-')).flatMap((f) => read(f).split('\n'));
  const logstashLines = files.includes('logstash.jsonl') ? read('logstash.jsonl').split('\n').filter(Boolean) : [];
  const personal = dir && existsSync(join(dir, 'personal-data.txt'))
    ? [...new Set(read('personal-data.txt').split('\n'))].filter((v) => v.length >= MIN_LENGTH)
    : [];

  it('When the run is over, then it captured console and Logstash lines, and personal data to look for', () => {
    // Guards against a check that passes because it saw nothing.
    assert.ok(consoleLines.length > 500, `only ${consoleLines.length} console lines captured`);
    assert.ok(logstashLines.length > 500, `only ${logstashLines.length} Logstash lines captured`);
    assert.ok(personal.length > 50, `only ${personal.length} personal values remembered`);
    assert.ok(personal.some((v) => v.includes('@')), 'no email remembered');
    assert.ok(logstashLines.some((l) => l.includes('"audit.user.create"') && l.includes('"email":"***"')), 'no masked audit line');
  });

  it('When every captured line is searched, then no email, name or Firebase uid of a test user appears', () => {
    const leaks: string[] = [];
    for (const [source, lines] of [['console', consoleLines], ['logstash', logstashLines]] as const) {
      for (const line of lines) {
        const found = personal.find((value) => line.includes(value));
        if (found) leaks.push(`${source}: "${found}" in ${line.slice(0, 300)}`);
      }
    }
    assert.deepEqual(leaks.slice(0, 20), [], `${leaks.length} log lines hold personal data`);
  });

  it('When the Logstash lines are parsed, then each is one JSON object with service, component, @timestamp and level', () => {
    const bad = logstashLines.filter((line) => {
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        return !(o.service === 'mymonit' && typeof o.component === 'string' && typeof o['@timestamp'] === 'string' && typeof o.level === 'string');
      } catch {
        return true;
      }
    });
    assert.deepEqual(bad.slice(0, 5), [], `${bad.length} malformed Logstash lines`);
  });
});
