import {
  api,
  errorMessage,
  experimentPath,
  send,
  type ExperimentDetails,
  type Measure,
  type Page,
  type SensorStats,
  type Summary,
  type User,
} from '../api';
import { button, field, h } from '../dom';
import { formatDuration, formatTime, formatValue, fromLocalInput, toLocalInput } from '../format';
import { announce } from '../messages';
import { streamMeasures, type LiveState } from '../live';
import type { SeriesPlot } from '../plot';
import { href } from '../router';
import { MAX_POINTS, SeriesStore, chooseBucket } from '../series';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const PRESETS: [string, string, number][] = [
  ['1h', 'Last hour', HOUR],
  ['24h', 'Last 24 hours', DAY],
  ['7d', 'Last 7 days', 7 * DAY],
  ['30d', 'Last 30 days', 30 * DAY],
];
/** Measures with a timestamp a little ahead of this clock still belong to "now". */
const CLOCK_SKEW_MS = 60_000;
const MAX_RAW = 10_000;
const DEFAULT_SENSORS = 5;

/** A range that follows the present (a preset), or a fixed one (custom, zoom). */
type Range = { kind: 'follow'; span: number } | { kind: 'fixed'; from: number; to: number };

interface SensorRow {
  stats: SensorStats;
  row: HTMLTableRowElement;
  checkbox: HTMLInputElement;
  unit: HTMLTableCellElement;
  count: HTMLTableCellElement;
  value: HTMLTableCellElement;
  time: HTMLTableCellElement;
}

/** One experiment: its sensors, a plot of chosen sensors over a chosen range, live updates, CSV. */
export async function experimentView(main: HTMLElement, me: User, id: string, signal: AbortSignal): Promise<() => void> {
  const title = h('h1', { tabindex: -1 }, `Experiment ${id}`);
  main.replaceChildren(h('section', {}, title, h('p', { class: 'loading' }, 'Loading…')));

  let details: ExperimentDetails;
  let sensors: SensorStats[];
  let plotModule: typeof import('../plot');
  try {
    [details, sensors, plotModule] = await Promise.all([
      api<ExperimentDetails>(experimentPath(id), { signal }),
      api<{ items: SensorStats[] }>(experimentPath(id, '/sensors'), { signal }).then((r) => r.items),
      import('../plot'),
    ]);
  } catch (error) {
    if (signal.aborted) return () => undefined;
    const message = errorMessage(error);
    title.textContent = 'Experiment not available';
    main.replaceChildren(
      h(
        'section',
        { class: 'card narrow' },
        title,
        h('p', { class: 'notice notice-error', id: 'page-error' }, message),
        h('p', {}, h('a', { href: '#/experiments' }, 'Back to the experiments')),
      ),
    );
    announce(message, 'error');
    return () => undefined;
  }
  if (signal.aborted) return () => undefined;

  /* ---------- State ---------- */
  let range: Range = { kind: 'follow', span: DAY };
  let baseRange: Range = range;
  const rows = new Map<string, SensorRow>();
  const selected = new Set(sensors.slice(0, DEFAULT_SENSORS).map((s) => s.sensor));
  let store: SeriesStore | null = null;
  let loadSeq = 0;

  const units = () => new Map([...rows.values()].map((r) => [r.stats.sensor, r.stats.unit]));

  /** What is fetched: a following range reaches a little into the future. */
  function fetchRange(): [number, number] {
    if (range.kind === 'fixed') return [range.from, range.to];
    const now = Date.now();
    return [now - range.span, now + CLOCK_SKEW_MS];
  }

  /** What is shown. */
  function shownRange(): [number, number] {
    if (range.kind === 'fixed') return [range.from, range.to];
    const now = Date.now();
    return [now - range.span, Math.max(now, store?.lastX() ?? now)];
  }

  /* ---------- Header ---------- */
  title.textContent = details.name;
  const summaryLine = h('p', { class: 'meta', id: 'experiment-meta' });
  function renderMeta(): void {
    const last = [...rows.values()].reduce<string | null>(
      (acc, r) => (r.stats.last_timestamp && (!acc || r.stats.last_timestamp > acc) ? r.stats.last_timestamp : acc),
      details.last_measure_at,
    );
    summaryLine.textContent = `${id} · ${rows.size} sensor${rows.size === 1 ? '' : 's'} · last measure ${last ? formatTime(last) : 'never'}`;
  }

  /* ---------- Sensors table ---------- */
  const tbody = h('tbody');
  const noSensors = h('p', { class: 'empty' }, 'No measures yet: sensors appear here with their first measure.');
  const sensorTable = h(
    'table',
    { class: 'data sensors', id: 'sensors' },
    h('caption', {}, 'Tick a sensor to plot it.'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Sensor'),
        h('th', { scope: 'col' }, 'Unit'),
        h('th', { scope: 'col', class: 'num' }, 'Count'),
        h('th', { scope: 'col', class: 'num' }, 'Last value'),
        h('th', { scope: 'col' }, 'Last time'),
      ),
    ),
    tbody,
  );

  function addRow(stats: SensorStats): SensorRow {
    const checkbox = h('input', { type: 'checkbox', name: 'sensor', value: stats.sensor, id: `sensor-${rows.size}` });
    checkbox.checked = selected.has(stats.sensor);
    checkbox.addEventListener('change', () => {
      if (checkbox.checked) selected.add(stats.sensor);
      else selected.delete(stats.sensor);
      void load();
    });
    const cells = {
      unit: h('td', { class: 'unit' }),
      count: h('td', { class: 'num count' }),
      value: h('td', { class: 'num last-value' }),
      time: h('td', { class: 'last-time' }),
    };
    const row = h(
      'tr',
      { 'data-sensor': stats.sensor },
      h('th', { scope: 'row' }, h('label', { class: 'check', for: checkbox.id }, checkbox, h('span', {}, stats.sensor))),
      cells.unit,
      cells.count,
      cells.value,
      cells.time,
    );
    const entry: SensorRow = { stats: { ...stats }, row, checkbox, ...cells };
    rows.set(stats.sensor, entry);
    tbody.append(row);
    renderRow(entry);
    noSensors.hidden = true;
    sensorTable.hidden = false;
    return entry;
  }

  function renderRow(r: SensorRow): void {
    r.unit.textContent = r.stats.unit ?? '—';
    r.count.textContent = r.stats.count.toLocaleString('en');
    r.value.textContent = formatValue(r.stats.last_value);
    const time = r.stats.last_timestamp ? h('time', { datetime: r.stats.last_timestamp }, formatTime(r.stats.last_timestamp)) : '—';
    r.time.replaceChildren(time);
  }

  function setSensors(list: SensorStats[]): void {
    for (const stats of list) {
      const existing = rows.get(stats.sensor);
      if (existing) {
        existing.stats = { ...stats };
        renderRow(existing);
      } else addRow(stats);
    }
  }

  sensors.forEach(addRow);
  noSensors.hidden = rows.size > 0;
  sensorTable.hidden = rows.size === 0;

  /* ---------- Range controls ---------- */
  const presetButtons = PRESETS.map(([label, description, span]) =>
    button(label, () => setRange({ kind: 'follow', span }, true), {
      'aria-pressed': 'false',
      'aria-label': description,
      title: description,
      'data-span': span,
    }),
  );
  const fromInput = h('input', { type: 'datetime-local', name: 'from', required: true });
  const toInput = h('input', { type: 'datetime-local', name: 'to', required: true });
  const customForm = h(
    'form',
    { class: 'range-form', 'aria-label': 'Custom range' },
    field('From', fromInput),
    field('To', toInput),
    h('button', { type: 'submit' }, 'Show'),
  );
  customForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const from = fromLocalInput(fromInput.value);
    const to = fromLocalInput(toInput.value);
    if (!(from < to)) {
      announce('The start of the range must come before its end.', 'error');
      fromInput.focus();
      return;
    }
    setRange({ kind: 'fixed', from, to }, true);
  });
  const resetZoom = button('Reset zoom', () => setRange(baseRange, false), { hidden: true });
  const downloadButton = button('Download CSV', () => void downloadCsv(), { class: 'secondary' });
  const plotStatus = h('p', { class: 'plot-status', id: 'plot-status' });
  const liveBadge = h('span', { class: 'live-badge', 'data-state': 'connecting' }, 'Connecting…');
  const plotArea = h('div', { class: 'plot', id: 'plot', role: 'img', 'aria-describedby': 'plot-status' });
  const plot: SeriesPlot = new plotModule.SeriesPlot(plotArea, {
    range: shownRange,
    onSelect: (from, to) => {
      setRange({ kind: 'fixed', from, to }, false);
      announce(`Zoomed in: ${formatTime(from)} to ${formatTime(to)}.`);
    },
  });

  function setRange(next: Range, asBase: boolean): void {
    range = next;
    if (asBase) baseRange = next;
    for (const b of presetButtons) {
      b.setAttribute('aria-pressed', String(range.kind === 'follow' && Number(b.dataset.span) === range.span));
    }
    resetZoom.hidden = range === baseRange;
    const [from, to] = range.kind === 'fixed' ? [range.from, range.to] : [Date.now() - range.span, Date.now()];
    fromInput.value = toLocalInput(from);
    toInput.value = toLocalInput(to);
    void load();
  }

  /* ---------- Data ---------- */
  async function load(): Promise<void> {
    const seq = ++loadSeq;
    const chosen = [...rows.keys()].filter((s) => selected.has(s));
    plotArea.setAttribute('aria-label', `Plot of ${chosen.join(', ') || 'no sensor'}`);
    if (chosen.length === 0) {
      store = new SeriesStore('raw', 0, []);
      plot.show(store, units());
      plotStatus.textContent = rows.size === 0 ? 'Nothing to plot yet.' : 'Tick at least one sensor to plot it.';
      return;
    }
    const [from, to] = fetchRange();
    plotStatus.textContent = 'Loading…';
    plotArea.setAttribute('aria-busy', 'true');
    try {
      const bucket = chooseBucket(to - from);
      const query = { from: Math.floor(from), to: Math.ceil(to), sensor: chosen };
      const summary = await api<Summary>(experimentPath(id, '/measures/summary'), { query: { ...query, bucket: bucket.name }, signal });
      const total = summary.sensors.reduce((n, s) => n + s.buckets.reduce((m, b) => m + b.count, 0), 0);
      let next = SeriesStore.fromSummary(chosen, summary);
      // Few measures (a short or sparse range): plot every one of them.
      if (total <= Math.min(MAX_RAW, MAX_POINTS * chosen.length)) {
        const page = await api<Page<Measure>>(experimentPath(id, '/measures'), {
          query: { ...query, order: 'asc', limit: MAX_RAW },
          signal,
        });
        if (!page.next_cursor) next = SeriesStore.fromMeasures(chosen, page.items);
      }
      if (seq !== loadSeq || signal.aborted) return;
      store = next;
      plot.show(store, units());
      const span = `${formatTime(from)} to ${formatTime(Math.min(to, Date.now()))}`;
      plotStatus.textContent =
        total === 0
          ? `No measures of the chosen sensors from ${span}.`
          : store.mode === 'raw'
            ? `${total.toLocaleString('en')} measures from ${span} (every measure).`
            : `${total.toLocaleString('en')} measures from ${span}: averages per ${formatDuration(store.bucketMs)}, with the min–max band.`;
    } catch (error) {
      if (signal.aborted || seq !== loadSeq) return;
      plotStatus.textContent = errorMessage(error);
      announce(errorMessage(error), 'error');
    } finally {
      if (seq === loadSeq) plotArea.removeAttribute('aria-busy');
    }
  }

  async function downloadCsv(): Promise<void> {
    const [from, to] = fetchRange();
    const chosen = [...rows.keys()].filter((s) => selected.has(s));
    downloadButton.disabled = true;
    try {
      const response = await send(experimentPath(id, '/measures'), {
        accept: 'text/csv',
        query: { from: Math.floor(from), to: Math.ceil(to), sensor: chosen.length > 0 ? chosen : undefined, order: 'asc' },
        signal,
      });
      const blob = await response.blob();
      const name =
        /filename="?([^";]+)"?/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? `${id}-measures.csv`;
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      announce(`Downloaded ${name}: the measures of ${chosen.length > 0 ? chosen.join(', ') : 'every sensor'} in the shown range.`, 'success');
    } catch (error) {
      if (!signal.aborted) announce(errorMessage(error), 'error');
    } finally {
      downloadButton.disabled = false;
    }
  }

  /* ---------- Live ---------- */
  const LIVE_TEXT: Record<LiveState, string> = {
    connecting: 'Connecting…',
    live: 'Live',
    reconnecting: 'Reconnecting…',
    stopped: 'Live updates stopped',
  };
  streamMeasures(
    id,
    {
      state(state, error) {
        liveBadge.dataset.state = state;
        liveBadge.textContent = LIVE_TEXT[state];
        if (error && !signal.aborted) announce(`Live updates stopped. ${error.message}`, 'error');
      },
      measures(measures) {
        let plotted = false;
        const [from, to] = fetchRange();
        for (const m of measures) {
          const ts = Date.parse(m.timestamp);
          const r = rows.get(m.sensor) ?? addRow({ sensor: m.sensor, unit: m.unit, count: 0, first_timestamp: m.timestamp, last_timestamp: null, last_value: null });
          r.stats.count += 1;
          if (!r.stats.last_timestamp || ts >= Date.parse(r.stats.last_timestamp)) {
            r.stats.last_timestamp = m.timestamp;
            r.stats.last_value = m.value;
            r.stats.unit = m.unit;
          }
          renderRow(r);
          if (store && selected.has(m.sensor) && ts >= from && (range.kind === 'follow' || ts < to)) {
            plotted = store.addMeasure(m.sensor, ts, m.value) || plotted;
          }
        }
        renderMeta();
        if (plotted && store) {
          if (range.kind === 'follow') store.prune(Date.now() - range.span);
          plot.refresh();
        }
      },
      resumed() {
        // Measures stored while the stream was down: read them again.
        api<{ items: SensorStats[] }>(experimentPath(id, '/sensors'), { signal })
          .then((r) => setSensors(r.items))
          .catch(() => undefined);
        void load();
      },
    },
    signal,
  );

  /* ---------- Page ---------- */
  renderMeta();
  main.replaceChildren(
    h(
      'article',
      { class: 'experiment', 'aria-labelledby': 'experiment-title' },
      h(
        'div',
        { class: 'page-head' },
        h('div', {}, Object.assign(title, { id: 'experiment-title' }), summaryLine),
        h(
          'div',
          { class: 'actions' },
          liveBadge,
          me.role === 'ADMIN' ? h('a', { class: 'button', href: href('admin', 'experiments', id) }, 'Manage') : null,
        ),
      ),
      details.description ? h('p', { class: 'description' }, details.description) : null,
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'plot-title' },
        h('h2', { id: 'plot-title' }, 'Measures'),
        h(
          'div',
          { class: 'toolbar' },
          h('div', { class: 'segmented', role: 'group', 'aria-label': 'Range' }, presetButtons),
          customForm,
        ),
        h('div', { class: 'toolbar' }, plotStatus, h('div', { class: 'actions' }, resetZoom, downloadButton)),
        plotArea,
        h('p', { class: 'hint' }, 'Drag over the plot to zoom in on a time span.'),
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'sensors-title' },
        h('h2', { id: 'sensors-title' }, 'Sensors'),
        noSensors,
        h('div', { class: 'table-wrap' }, sensorTable),
      ),
    ),
  );
  setRange(range, true);

  return () => plot.destroy();
}
