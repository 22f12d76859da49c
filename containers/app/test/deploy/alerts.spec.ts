import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { analyse, exposedSeries, loadPromql, sourceText } from '../support/promql';

/**
 * The Prometheus alerting rules shipped in containers/prometheus, held to the
 * metrics the app really exposes (names, labels, label values), and run by
 * Debian's promtool: its syntax checks and the rules' own unit tests.
 */
const dir = join(__dirname, '..', '..', '..', 'prometheus');
const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((path) => existsSync(path));
if (!PROMTOOL) console.warn('\n*** promtool is not installed: the alerting rules are not run (.ci/run installs Debian\'s prometheus) ***\n');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const groups = (parse(readFileSync(join(dir, 'alerts.yml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups;
const rules = groups.flatMap((g) => g.rules);
const scrapeConfig = parse(readFileSync(join(dir, 'prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string }[] };
const ruleTests = parse(readFileSync(join(dir, 'alerts.test.yml'), 'utf8')) as {
  tests: { alert_rule_test: { alertname: string; exp_alerts?: unknown[] }[] }[];
};

describe('Prometheus alerting rules (containers/prometheus)', () => {
  let series: Map<string, string[]>;
  const source = sourceText();
  before(async () => {
    await loadPromql();
    series = await exposedSeries();
  });

  it('When the rules are read, then each has a unique name, a severity, a summary and a description', () => {
    assert.ok(rules.length >= 10, `${rules.length} rules`);
    assert.equal(new Set(rules.map((r) => r.alert)).size, rules.length, 'alert names are unique');
    for (const rule of rules) {
      assert.match(rule.alert, /^MyMONIT[A-Z][A-Za-z]+$/, rule.alert);
      assert.ok(['critical', 'warning'].includes(rule.labels?.severity ?? ''), `${rule.alert}: severity`);
      assert.ok(rule.annotations?.summary && rule.annotations.description, `${rule.alert}: summary and description`);
    }
  });

  it('When each expression is parsed, then every metric it names is one the app exposes, with the labels it matches and groups by', () => {
    assert.ok(series.has('mymonit_ingest_messages_total') && series.has('mymonit_nodejs_eventloop_lag_p99_seconds'), 'the registry was read');
    for (const rule of rules) {
      const { selectors, grouping } = analyse(rule.expr);
      assert.ok(selectors.length > 0, `${rule.alert} selects something`);
      const carried = new Set<string>();
      for (const { metric, matchers } of selectors) {
        const labels = series.get(metric);
        assert.ok(labels, `${rule.alert}: ${metric} is not a series the app exposes`);
        labels.forEach((l) => carried.add(l));
        for (const { label } of matchers) assert.ok(labels.includes(label), `${rule.alert}: ${metric} has no label ${label}`);
      }
      for (const label of grouping) assert.ok(carried.has(label), `${rule.alert}: groups by ${label}, which its series lack`);
    }
  });

  it('When a rule matches a label value exactly, then it is a value the app sets, a route it serves, or the scrape job', () => {
    const jobs = scrapeConfig.scrape_configs.map((c) => c.job_name);
    let checked = 0;
    for (const rule of rules) {
      for (const { metric, matchers } of analyse(rule.expr).selectors) {
        for (const { label, op, value } of matchers.filter((m) => m.op === '=' || m.op === '!=')) {
          checked++;
          if (label === 'job') assert.ok(jobs.includes(value), `${rule.alert}: job "${value}" is not scraped by prometheus.yml`);
          else if (label === 'route') assert.ok(source.includes(`path: '${value}'`), `${rule.alert}: ${metric}{route${op}"${value}"} is no route of the API`);
          else assert.ok(source.includes(`${label}: '${value}'`), `${rule.alert}: the app never sets ${metric}{${label}="${value}"}`);
        }
      }
    }
    assert.ok(checked >= 4, `${checked} exact matchers checked`);
  });

  it('When the rule tests are read, then every alert has a case in which it fires', () => {
    const firing = new Set(ruleTests.tests.flatMap((t) => t.alert_rule_test.filter((a) => (a.exp_alerts ?? []).length > 0).map((a) => a.alertname)));
    for (const rule of rules) assert.ok(firing.has(rule.alert), `${rule.alert} has no test in which it fires`);
  });

  it('When promtool checks the configuration and runs the rule tests, then both pass', { skip: !PROMTOOL && 'promtool is not installed' }, () => {
    const run = (...args: string[]) => execFileSync(PROMTOOL!, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(run('check', 'config', 'prometheus.yml'), /SUCCESS: 1 rule files found/);
    assert.match(run('check', 'rules', 'alerts.yml'), new RegExp(`SUCCESS: ${rules.length} rules found`));
    assert.match(run('test', 'rules', 'alerts.test.yml'), /SUCCESS/);
  });
});
