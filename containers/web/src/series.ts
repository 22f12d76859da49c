import type { Measure, Summary } from './api';

/**
 * The plotted data: per sensor, points keyed by time. Raw measures are points
 * of one value; summary buckets carry count, min, max and the average, and a
 * live measure merges into its bucket.
 */

export interface Point {
  count: number;
  min: number;
  max: number;
  sum: number;
}

export type Mode = 'raw' | 'summary';

export class SeriesStore {
  readonly points = new Map<string, Map<number, Point>>();

  constructor(
    readonly mode: Mode,
    /** Bucket width (summary) or 0 (raw). */
    readonly bucketMs: number,
    readonly sensors: string[],
  ) {
    for (const sensor of sensors) this.points.set(sensor, new Map());
  }

  static fromMeasures(sensors: string[], measures: Measure[]): SeriesStore {
    const store = new SeriesStore('raw', 0, sensors);
    for (const m of measures) store.addMeasure(m.sensor, Date.parse(m.timestamp), m.value);
    return store;
  }

  static fromSummary(sensors: string[], summary: Summary): SeriesStore {
    const store = new SeriesStore('summary', summary.bucket_ms, sensors);
    for (const series of summary.sensors) {
      const points = store.points.get(series.sensor);
      if (!points) continue;
      for (const b of series.buckets) {
        points.set(Date.parse(b.start), { count: b.count, min: b.min, max: b.max, sum: b.avg * b.count });
      }
    }
    return store;
  }

  /** Adds one measure (a live one): a point of its own, or merged into its bucket. */
  addMeasure(sensor: string, timestamp: number, value: number): boolean {
    const points = this.points.get(sensor);
    if (!points || !Number.isFinite(timestamp)) return false;
    const x = this.bucketMs > 0 ? Math.floor(timestamp / this.bucketMs) * this.bucketMs : timestamp;
    const point = points.get(x);
    if (!point || this.mode === 'raw') {
      points.set(x, { count: 1, min: value, max: value, sum: value });
    } else {
      point.count += 1;
      point.min = Math.min(point.min, value);
      point.max = Math.max(point.max, value);
      point.sum += value;
    }
    return true;
  }

  /** Forgets the points before `from` (the window follows the present). */
  prune(from: number): void {
    const limit = this.bucketMs > 0 ? Math.floor(from / this.bucketMs) * this.bucketMs : from;
    for (const points of this.points.values()) for (const x of points.keys()) if (x < limit) points.delete(x);
  }

  pointCount(): number {
    let n = 0;
    for (const points of this.points.values()) n = Math.max(n, points.size);
    return n;
  }

  lastX(): number {
    let last = -Infinity;
    for (const points of this.points.values()) for (const x of points.keys()) last = Math.max(last, x);
    return last;
  }

  /**
   * uPlot's aligned columns: x, then per sensor avg (and, for summaries, max and min).
   * x is in epoch milliseconds.
   */
  aligned(): (number | null)[][] {
    const xs = [...new Set([...this.points.values()].flatMap((p) => [...p.keys()]))].sort((a, b) => a - b);
    const columns: (number | null)[][] = [xs];
    for (const sensor of this.sensors) {
      const points = this.points.get(sensor)!;
      const avg: (number | null)[] = [];
      const max: (number | null)[] = [];
      const min: (number | null)[] = [];
      for (const x of xs) {
        const p = points.get(x);
        avg.push(p ? p.sum / p.count : null);
        max.push(p ? p.max : null);
        min.push(p ? p.min : null);
      }
      columns.push(avg);
      if (this.mode === 'summary') columns.push(max, min);
    }
    return columns;
  }
}

/** Bucket widths the summary is asked for, smallest first. */
const BUCKETS: [string, number][] = [
  ['1s', 1000],
  ['2s', 2000],
  ['5s', 5000],
  ['10s', 10_000],
  ['15s', 15_000],
  ['30s', 30_000],
  ['1m', 60_000],
  ['2m', 120_000],
  ['5m', 300_000],
  ['10m', 600_000],
  ['15m', 900_000],
  ['30m', 1_800_000],
  ['1h', 3_600_000],
  ['2h', 7_200_000],
  ['3h', 10_800_000],
  ['6h', 21_600_000],
  ['12h', 43_200_000],
  ['1d', 86_400_000],
  ['2d', 172_800_000],
  ['1w', 604_800_000],
];

export const MAX_POINTS = 1000;

/** The smallest bucket that keeps a range to at most MAX_POINTS points per sensor. */
export function chooseBucket(spanMs: number): { name: string; ms: number } {
  const wanted = spanMs / MAX_POINTS;
  for (const [name, ms] of BUCKETS) if (ms >= wanted) return { name, ms };
  const weeks = Math.ceil(wanted / 604_800_000);
  return { name: `${weeks}w`, ms: weeks * 604_800_000 };
}
