import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatValue } from './format';
import type { SeriesStore } from './series';

/** The time-series plot (uPlot): one line per sensor, a min-max band for summaries. */

const COLORS = ['#1f5fbf', '#c2410c', '#047857', '#7e22ce', '#b91c1c', '#0e7490', '#854d0e', '#be185d'];

function alpha(hex: string, a: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

export interface PlotOptions {
  /** The user dragged over a time span: show it (refetch). */
  onSelect(from: number, to: number): void;
  /** The x range shown, [from, to] in epoch ms. */
  range(): [number, number];
}

export class SeriesPlot {
  private plot: uPlot | null = null;
  private shape = '';
  private readonly resize: ResizeObserver;
  private frame = 0;
  private store: SeriesStore | null = null;
  private units = new Map<string, string | null>();

  constructor(
    private readonly container: HTMLElement,
    private readonly options: PlotOptions,
  ) {
    this.resize = new ResizeObserver(() => this.fit());
    this.resize.observe(container);
  }

  /** Shows a store: a new plot when the series change, new data otherwise. */
  show(store: SeriesStore, units: Map<string, string | null>): void {
    this.store = store;
    this.units = units;
    const shape = `${store.mode}|${store.sensors.join(',')}|${store.sensors.map((s) => units.get(s) ?? '').join(',')}`;
    if (!this.plot || shape !== this.shape) {
      this.shape = shape;
      this.plot?.destroy();
      this.plot = this.create(store);
    } else {
      this.plot.setData(store.aligned() as uPlot.AlignedData);
    }
  }

  /** Redraws after live points were added (at most once a frame). */
  refresh(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (this.plot && this.store) this.plot.setData(this.store.aligned() as uPlot.AlignedData);
    });
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }

  private size(): { width: number; height: number } {
    const width = Math.max(260, Math.floor(this.container.clientWidth));
    const height = Math.round(Math.min(420, Math.max(220, width * 0.45)));
    return { width, height };
  }

  private fit(): void {
    if (!this.plot) return;
    const size = this.size();
    if (size.width !== this.plot.width || size.height !== this.plot.height) this.plot.setSize(size);
  }

  private create(store: SeriesStore): uPlot {
    const summary = store.mode === 'summary';
    const unitScales = [...new Set(store.sensors.map((s) => this.units.get(s) ?? ''))];
    const scaleOf = (sensor: string) => `y:${this.units.get(sensor) ?? ''}`;
    const series: uPlot.Series[] = [{ label: 'Time', value: (_u, v) => (v === null ? '—' : new Date(v).toLocaleString()) }];
    const bands: uPlot.Band[] = [];
    store.sensors.forEach((sensor, i) => {
      const color = COLORS[i % COLORS.length];
      const unit = this.units.get(sensor);
      const value = (_u: uPlot, v: number | null) => (v === null ? '—' : `${formatValue(v)}${unit ? ` ${unit}` : ''}`);
      series.push({ label: summary ? `${sensor} (avg)` : sensor, stroke: color, width: 2, scale: scaleOf(sensor), spanGaps: true, value });
      if (summary) {
        const index = series.length;
        series.push(
          { label: `${sensor} max`, stroke: alpha(color, 0.35), width: 1, scale: scaleOf(sensor), spanGaps: true, value, points: { show: false } },
          { label: `${sensor} min`, stroke: alpha(color, 0.35), width: 1, scale: scaleOf(sensor), spanGaps: true, value, points: { show: false } },
        );
        bands.push({ series: [index, index + 1], fill: alpha(color, 0.12) });
      }
    });
    const scales: uPlot.Scales = {
      x: { time: true, range: () => this.options.range() },
    };
    for (const unit of unitScales) scales[`y:${unit}`] = { auto: true };
    const axes: uPlot.Axis[] = [
      { stroke: '#333', grid: { stroke: '#e5e7eb' }, ticks: { stroke: '#d1d5db' } },
      ...unitScales.map(
        (unit, i): uPlot.Axis => ({
          scale: `y:${unit}`,
          label: unit || undefined,
          side: i % 2 === 0 ? 3 : 1,
          stroke: '#333',
          grid: { show: i === 0, stroke: '#e5e7eb' },
          ticks: { stroke: '#d1d5db' },
          size: 60,
        }),
      ),
    ];
    const plot = new uPlot(
      {
        ...this.size(),
        ms: 1,
        series,
        bands,
        scales,
        axes,
        legend: { live: true },
        cursor: { drag: { x: true, y: false, setScale: false }, focus: { prox: 16 } },
        hooks: {
          setSelect: [
            (u) => {
              const { left, width } = u.select;
              if (width > 4) {
                const from = Math.round(u.posToVal(left, 'x'));
                const to = Math.round(u.posToVal(left + width, 'x'));
                this.options.onSelect(from, to);
              }
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            },
          ],
        },
      },
      store.aligned() as uPlot.AlignedData,
      this.container,
    );
    // The band edges are in the band: keep the legend to one row per sensor.
    if (summary) {
      plot.root.querySelectorAll<HTMLElement>('.u-legend .u-series').forEach((row, i) => {
        if (i > 0 && (i - 1) % 3 !== 0) row.classList.add('band-edge');
      });
    }
    return plot;
  }
}
