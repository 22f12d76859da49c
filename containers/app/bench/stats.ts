import { cpus as cpuList } from 'node:os';

/** Small helpers shared by the benchmarks. */

export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

const cell = (value: unknown) => (typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(2)) : String(value));

/** A plain-text table for the terminal. */
export function table(header: string[], rows: unknown[][]): string {
  const cells = [header, ...rows.map((r) => r.map(cell))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((v, c) => v.padEnd(widths[c])).join(' | ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('-|-'), ...cells.slice(1).map(line)].join('\n');
}

/**
 * What the figures were measured on: they move with the machine (the same
 * code has given half the throughput on a slower 2-core host), so results
 * carry the CPU and a fixed single-core loop's time for comparison.
 */
export function machineFacts() {
  const cpus = cpuList();
  const started = process.hrtime.bigint();
  let sum = 0;
  for (let i = 0; i < 100_000_000; i++) sum += i % 7;
  const loopMs = Number(process.hrtime.bigint() - started) / 1e6;
  // The sum is used, so the loop cannot be optimised away.
  if (sum !== 299_999_995) throw new Error('reference loop miscounted');
  return { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, node: process.version, reference_loop_ms: Math.round(loopMs) };
}
