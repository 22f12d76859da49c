import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { asSent, dashboard, queries } from '../support/grafana-dashboard';
import { TARGET_LABELS, analyse, exposedSeries, loadPromql, sourceText } from '../support/promql';

/**
 * The Grafana dashboard shipped in containers/grafana, held to the metrics
 * the app really exposes and to the alerting rules it names. (Prometheus
 * itself runs every query of it in test/deploy/prometheus.spec.ts.)
 */
const root = join(__dirname, '..', '..', '..');

/** Series Prometheus makes from the alerting rules: ALERTS carries the rule's name, state and labels, and the series' own. */
const ALERTS_LABELS = ['alertname', 'alertstate', 'severity', ...TARGET_LABELS];

describe('Grafana dashboard (containers/grafana/mymonit.json)', () => {
  let series: Map<string, string[]>;
  const source = sourceText();
  const jobs = (parse(readFileSync(join(root, 'prometheus', 'prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string }[] }).scrape_configs.map(
    (c) => c.job_name,
  );
  const alertNames: string[] = readFileSync(join(root, 'prometheus', 'alerts.yml'), 'utf8').match(/(?<=alert: )MyMONIT\w+/g) ?? [];
  before(async () => {
    await loadPromql();
    series = await exposedSeries();
    series.set('ALERTS', ALERTS_LABELS);
  });

  it('When the dashboard is read, then it picks its Prometheus and the instances of the job the rules use', () => {
    assert.equal(dashboard.uid, 'mymonit');
    const [datasource, instance] = dashboard.templating.list;
    assert.deepEqual([datasource.name, datasource.type, datasource.query], ['datasource', 'datasource', 'prometheus']);
    assert.equal(instance.name, 'instance');
    assert.equal(typeof instance.query === 'string' ? instance.query : instance.query.query, 'label_values(up{job="mymonit"}, instance)');
    assert.equal(instance.allValue, '.*');
    assert.ok(jobs.includes('mymonit'), 'prometheus.yml scrapes the job the dashboard reads');
  });

  it('When the panels are laid out, then ids are unique, each fits the 24 columns and none overlaps another', () => {
    const panels = dashboard.panels;
    assert.ok(queries.length >= 15, `${queries.length} queries`);
    assert.equal(new Set(panels.map((p) => p.id)).size, panels.length, 'panel ids are unique');
    const cells = new Map<string, string>();
    for (const { title, gridPos: g } of panels) {
      assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0, `${title}: inside the grid`);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const taken = cells.get(`${x},${y}`);
          assert.equal(taken, undefined, `${title} overlaps ${taken}`);
          cells.set(`${x},${y}`, title);
        }
      }
    }
  });

  it('When a panel queries, then it says what it shows and asks the chosen Prometheus, with one refId per query', () => {
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      assert.ok(panel.description, `${panel.title}: description`);
      assert.deepEqual(panel.datasource, { type: 'prometheus', uid: '${datasource}' }, `${panel.title}: datasource`);
      const targets = panel.targets ?? [];
      assert.ok(targets.length > 0, `${panel.title}: queries`);
      assert.equal(new Set(targets.map((t) => t.refId)).size, targets.length, `${panel.title}: refIds are unique`);
      for (const target of targets) assert.deepEqual(target.datasource, panel.datasource, `${panel.title} ${target.refId}: datasource`);
    }
  });

  it('When each query is parsed, then it names series the app exposes, with their labels, filtered by the job and the chosen instances', () => {
    for (const { panel, expr } of queries) {
      const { selectors, grouping } = analyse(asSent(expr));
      const carried = new Set<string>();
      for (const { metric, matchers } of analyse(expr.replaceAll('$__rate_interval', '1m')).selectors) {
        const labels = series.get(metric);
        assert.ok(labels, `${panel}: ${metric} is not a series the app exposes`);
        labels.forEach((l) => carried.add(l));
        for (const { label } of matchers) assert.ok(labels.includes(label), `${panel}: ${metric} has no label ${label}`);
        assert.ok(matchers.some((m) => m.label === 'job' && m.op === '=' && m.value === 'mymonit'), `${panel}: ${metric} filters job="mymonit"`);
        assert.ok(matchers.some((m) => m.label === 'instance' && m.op === '=~' && m.value === '$instance'), `${panel}: ${metric} follows the instance picker`);
      }
      assert.ok(selectors.length > 0, `${panel} selects something`);
      for (const label of grouping) assert.ok(carried.has(label), `${panel}: groups by ${label}, which its series lack`);
    }
  });

  it('When a legend names labels, then the query keeps them', () => {
    let checked = 0;
    for (const { panel, expr, legendFormat } of queries) {
      const { selectors, grouping, aggregates } = analyse(asSent(expr));
      const kept = aggregates ? grouping.filter((l) => l !== 'le') : selectors.flatMap((s) => series.get(s.metric) ?? []);
      for (const [, label] of (legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)) {
        checked++;
        assert.ok(kept.includes(label), `${panel}: the legend shows {{${label}}}, which the query does not keep`);
      }
    }
    assert.ok(checked >= 10, `${checked} legend labels checked`);
  });

  it('When a query matches a label value exactly, then it is the scrape job, a route the API serves, or a value the app sets', () => {
    let checked = 0;
    for (const { panel, expr } of queries) {
      for (const { metric, matchers } of analyse(asSent(expr)).selectors) {
        for (const { label, op, value } of matchers.filter((m) => m.op === '=' || m.op === '!=')) {
          checked++;
          if (label === 'job') assert.ok(jobs.includes(value), `${panel}: job "${value}" is not scraped by prometheus.yml`);
          else if (label === 'route') assert.ok(source.includes(`path: '${value}'`), `${panel}: ${metric}{route${op}"${value}"} is no route of the API`);
          else if (metric === 'ALERTS') assert.ok(label === 'alertstate' && ['firing', 'pending'].includes(value), `${panel}: ALERTS{${label}="${value}"}`);
          else assert.ok(source.includes(`${label}: '${value}'`), `${panel}: the app never sets ${metric}{${label}="${value}"}`);
        }
      }
    }
    assert.ok(checked >= queries.length, `${checked} exact matchers checked`);
  });

  it('When a description names an alert, then it is one of the shipped rules', () => {
    const named = dashboard.panels.flatMap((p) => p.description?.match(/MyMONIT[A-Z]\w+/g) ?? []);
    assert.ok(named.length >= 3, `${named.length} alerts named`);
    for (const name of named) assert.ok(alertNames.includes(name), `${name} is no rule of alerts.yml`);
  });
});
