import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The Grafana dashboard shipped in containers/grafana, as its tests read it. */
const root = join(__dirname, '..', '..', '..');
export const DASHBOARD_FILE = join(root, 'grafana', 'mymonit.json');

export interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  datasource?: { type: string; uid: string };
}
export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
}
export interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  allValue?: string;
}
export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

export const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;

/**
 * A query as Grafana sends it: the instance picker on "All" (its `allValue`)
 * and the rate window Grafana computes (at least four scrape intervals).
 */
export function asSent(expr: string, instance = '.*'): string {
  return expr.replaceAll('$instance', instance).replaceAll('$__rate_interval', '1m');
}

/** Every query of the dashboard, with the title of its panel. */
export const queries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, ...target })));
