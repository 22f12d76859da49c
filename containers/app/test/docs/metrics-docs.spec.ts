import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Metrics } from '../../src/metrics/metrics';

const DEPLOYMENT_MD = join(__dirname, '..', '..', '..', '..', 'docs', 'deployment.md');

/** prom-client's own process and Node.js metrics, which the docs name by prefix only. */
const DEFAULT_METRIC = /^mymonit_(process|nodejs)_/;

interface Documented {
  type: string;
  labels: string[];
}

/** The rows of the metrics table in docs/deployment.md: `| \`name\` / \`name\` | type | labels | … |`. */
function documentedMetrics(markdown: string): Map<string, Documented> {
  const rows = new Map<string, Documented>();
  for (const line of markdown.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    if (cells.length < 5 || !cells[1].startsWith('`mymonit_')) continue;
    const names = [...cells[1].matchAll(/`(mymonit_[a-z_]+)`/g)].map((m) => m[1]);
    const labels = [...cells[3].matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
    for (const name of names) {
      assert.ok(!rows.has(name), `${name} is in the table twice`);
      rows.set(name, { type: cells[2], labels });
    }
  }
  return rows;
}

describe('The metrics named in docs/deployment.md', () => {
  const registry = new Metrics().registry;
  const own = (registry.getMetricsAsArray() as unknown as { name: string; labelNames: string[]; constructor: { name: string } }[]).filter(
    (metric) => !DEFAULT_METRIC.test(metric.name),
  );
  const documented = documentedMetrics(readFileSync(DEPLOYMENT_MD, 'utf8'));

  it('When the app registry is read, then every metric of its own is in the table, with its type and labels', () => {
    assert.ok(own.length >= 10, 'the registry has the app metrics');
    for (const metric of own) {
      const row = documented.get(metric.name);
      assert.ok(row, `${metric.name} is exposed at /metrics but not documented in docs/deployment.md`);
      assert.equal(row.type, metric.constructor.name.toLowerCase(), `${metric.name}: type`);
      assert.deepEqual(row.labels, metric.labelNames, `${metric.name}: labels`);
    }
  });

  it('When the table is read, then it names no metric the app does not expose', () => {
    const exposed = new Set(own.map((metric) => metric.name));
    for (const name of documented.keys()) assert.ok(exposed.has(name), `docs/deployment.md documents ${name}, which the app does not expose`);
  });

  it('When the process metrics are read, then they are under the prefix the docs give', () => {
    const defaults = (registry.getMetricsAsArray() as unknown as { name: string }[]).filter((metric) => DEFAULT_METRIC.test(metric.name));
    assert.ok(defaults.some((metric) => metric.name === 'mymonit_process_cpu_seconds_total'));
    assert.ok(defaults.some((metric) => metric.name === 'mymonit_nodejs_eventloop_lag_seconds'));
  });
});
