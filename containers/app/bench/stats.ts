import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

/** Processes running here whose command name is one of `names` (Linux /proc). */
export function pidsNamed(names: string[]): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return names.includes(readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

/** A process and its children (the workers of a cluster), from /proc. */
export function withChildren(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return [pid, ...children.flatMap(withChildren)];
  } catch {
    return [pid];
  }
}

/** User + system CPU time of a process so far, ms (Linux /proc; clock ticks of 10 ms). */
export function cpuMsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/**
 * CPU time of groups of processes from now on: the returned function gives
 * each group's CPU µs per unit of work (message, request) since the meter
 * started. Steadier than throughput on a shared host, and it shows where the
 * machine's time goes.
 */
export function cpuMeter<G extends string>(groups: Record<G, number[]>) {
  const names = Object.keys(groups) as G[];
  const read = () => Object.fromEntries(names.map((g) => [g, groups[g].reduce((sum, pid) => sum + cpuMsOf(pid), 0)])) as Record<G, number>;
  const before = read();
  return (units: number): Record<G, number> => {
    const after = read();
    return Object.fromEntries(names.map((g) => [g, Math.round(((after[g] - before[g]) * 1000) / units)])) as Record<G, number>;
  };
}

/** Writes a benchmark's figures to bench/results/`file` and says where. */
export function writeResults(file: string, results: unknown): void {
  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, file);
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`written to ${out}`);
}
