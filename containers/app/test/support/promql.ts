import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Metrics } from '../../src/metrics/metrics';

/**
 * PromQL shipped for operators (alerting rules, the Grafana dashboard) held
 * to the metrics the app really exposes: Prometheus's own grammar, the app's
 * metric registry, and its source for label values and route templates.
 */

const srcDir = join(__dirname, '..', '..', 'src');

/** Labels Prometheus itself puts on every scraped series. */
export const TARGET_LABELS = ['job', 'instance'];

/** One vector selector of an expression: metric name and its label matchers. */
export interface Selector {
  metric: string;
  matchers: { label: string; op: string; value: string }[];
}

/** Prometheus's own PromQL grammar (an ES module). */
type Parser = (typeof import('@prometheus-io/lezer-promql', { with: { 'resolution-mode': 'import' } }))['parser'];
let parser: Parser | null = null;

/** Loads the grammar; call before `analyse` (in a `before` hook). */
export async function loadPromql(): Promise<void> {
  parser ??= (await import('@prometheus-io/lezer-promql')).parser;
}

/**
 * The selectors and grouping labels (`by`, `without`, `on`, `ignoring`) of a
 * PromQL expression, and whether it aggregates (`sum`, `max`…); throws on a
 * syntax error.
 */
export function analyse(expr: string): { selectors: Selector[]; grouping: string[]; aggregates: boolean } {
  if (!parser) throw new Error('loadPromql() first');
  const tree = parser.parse(expr);
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  let aggregates = false;
  const text = (from: number, to: number) => expr.slice(from, to);
  tree.iterate({
    enter(node) {
      if (node.type.isError) throw new Error(`syntax error at ${node.from} in: ${expr}`);
      if (node.name === 'VectorSelector') {
        const selector: Selector = { metric: '', matchers: [] };
        const cursor = node.node.cursor();
        cursor.firstChild();
        do {
          if (cursor.name === 'Identifier') selector.metric = text(cursor.from, cursor.to);
          if (cursor.name === 'LabelMatchers') {
            for (const matcher of cursor.node.getChildren('UnquotedLabelMatcher')) {
              const label = matcher.getChild('LabelName')!;
              const op = matcher.getChild('MatchOp')!;
              const value = matcher.getChild('StringLiteral')!;
              selector.matchers.push({
                label: text(label.from, label.to),
                op: text(op.from, op.to),
                value: JSON.parse(text(value.from, value.to)) as string,
              });
            }
          }
        } while (cursor.nextSibling());
        selectors.push(selector);
      }
      if (node.name === 'AggregateExpr') aggregates = true;
      if (node.name === 'GroupingLabels') {
        for (const label of node.node.getChildren('LabelName')) grouping.push(text(label.from, label.to));
      }
    },
  });
  return { selectors, grouping, aggregates };
}

/** Every series name the app exposes → the labels it carries, read from the app's own registry. */
export async function exposedSeries(): Promise<Map<string, string[]>> {
  const metrics = new Metrics();
  const defaults = ['service'];
  const series = new Map<string, string[]>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    const own = (metrics.registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] }).labelNames ?? [];
    const labels = [...defaults, ...own, ...TARGET_LABELS];
    if (String(metric.type) === 'histogram') {
      series.set(`${metric.name}_bucket`, [...labels, 'le']);
      series.set(`${metric.name}_sum`, labels);
      series.set(`${metric.name}_count`, labels);
    } else {
      series.set(metric.name, labels);
    }
  }
  series.set('up', TARGET_LABELS); // made by Prometheus itself for each target
  return series;
}

/** The app's source, to find the label values it sets (`outcome: 'rejected'`) and the route templates (`path: '/me'`). */
export function sourceText(): string {
  return readdirSync(srcDir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))
    .map((f) => readFileSync(join(srcDir, f), 'utf8'))
    .join('\n');
}
