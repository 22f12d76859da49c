import assert from 'node:assert/strict';

/**
 * A metric's value in a Prometheus text exposition: the first series of
 * `name` whose labels include `labels` (other labels, such as the default
 * `service`, ignored).
 */
export function metricIn(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([label, value]) => `${label}="${value}"`);
  const line = text
    .split('\n')
    .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && wanted.every((pair) => l.includes(pair)));
  assert.ok(line, `${name}${wanted.length > 0 ? `{${wanted.join(',')}}` : ''} missing from /metrics`);
  return Number(line.split(' ').at(-1));
}

/** A metric's value, scraped from the app at `baseUrl`. */
export async function scrapeMetric(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricIn(await (await fetch(`${baseUrl}/metrics`)).text(), name, labels);
}
