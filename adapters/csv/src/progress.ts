import { SingleBar } from 'cli-progress';

/** Rows confirmed so far, shown as a bar on a terminal; elsewhere only the final summary is printed. */
export interface Progress {
  /** `total`: rows to send, or null when unknown (stdin). */
  start(total: number | null): void;
  update(rows: number, measures: number): void;
  /** Prints a line without breaking the bar. */
  log(line: string): void;
  stop(): void;
}

export function createProgress(stream: NodeJS.WriteStream): Progress {
  if (!stream.isTTY) {
    return {
      start: () => undefined,
      update: () => undefined,
      log: (line) => void stream.write(`${line}\n`),
      stop: () => undefined,
    };
  }
  let bar: SingleBar | null = null;
  let startedAt = 0;
  return {
    start(total) {
      startedAt = Date.now();
      bar = new SingleBar({
        stream,
        format:
          total === null
            ? '{value} rows | {measures} measures | {rate} rows/s'
            : '{bar} {percentage}% | {value}/{total} rows | {measures} measures | {rate} rows/s | ETA {eta_formatted}',
        barsize: 30,
        etaBuffer: 50,
        fps: 10,
      });
      bar.start(total ?? 0, 0, { measures: 0, rate: 0 });
    },
    update(rows, measures) {
      const seconds = (Date.now() - startedAt) / 1000;
      bar?.update(rows, { measures, rate: seconds > 0 ? Math.round(rows / seconds) : 0 });
    },
    log(line) {
      // Clear the bar's line; it is drawn again below at its next update.
      stream.write(bar ? `\r\x1b[K${line}\n` : `${line}\n`);
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}

export function summary(measures: number, rows: number, milliseconds: number): string {
  const seconds = milliseconds / 1000;
  const rate = seconds > 0 ? Math.round(rows / seconds) : rows;
  return `published ${measures} measures from ${rows} rows in ${seconds.toFixed(1)} s (${rate} rows/s)`;
}
