// Shared helpers of the benchmarks: percentiles, memory readings, the JSON result file and a
// plain-text table. Benchmarks print figures; nothing here passes or fails.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, whether running from bench/ (sources) or dist/bench/ (compiled). */
export const repoRoot = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'control'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('repository root not found');
})();

/** Distribution of a sample, milliseconds unless said otherwise. */
export interface Summary {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array (q in 0..1). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Min, p50, p90, p99, max and mean of a sample. */
export function summarize(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  return {
    n: s.length,
    min: s[0] ?? Number.NaN,
    p50: percentile(s, 0.5),
    p90: percentile(s, 0.9),
    p99: percentile(s, 0.99),
    max: s.at(-1) ?? Number.NaN,
    mean,
  };
}

/** Median of a sample. */
export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

/** Rounds for printing: 3 significant digits at most, integers stay integers. */
export function fmt(v: number, digits = 1): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(digits);
}

/** Resident set size of a process from /proc/<pid>/status (VmRSS), bytes; undefined when gone. */
export function rssOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Heap used and RSS of this process after a full GC (needs --expose-gc; without it, no GC). */
export async function settledMemory(): Promise<{ heapUsed: number; rss: number; external: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external + m.arrayBuffers };
}

/** Whether this process can force GC (node --expose-gc). */
export function canGc(): boolean {
  return typeof (globalThis as { gc?: unknown }).gc === 'function';
}

/** Machine facts every result carries. */
export function machine(): { cores: number; node: string; cpu: string; date: string } {
  return {
    cores: cpus().length,
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    date: new Date().toISOString(),
  };
}

/** Writes bench/results/<name>.json (gitignored) and returns its path. */
export function writeResult(name: string, result: Record<string, unknown>): string {
  const dir = join(repoRoot, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  const body = { name, machine: machine(), command: commandLine(), ...result };
  writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
  return file;
}

/** How this process was started, relative to the repo, for the report. */
export function commandLine(): string {
  const args = process.argv.slice(1).map((a) => (a.startsWith(repoRoot) ? a.slice(repoRoot.length + 1) : a));
  return ['node', ...process.execArgv, ...args].join(' ');
}

/** Prints rows as an aligned plain-text table. */
export function printTable(headers: string[], rows: Array<Array<string | number>>): void {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const [i, r] of cells.entries()) {
    console.log(r.map((c, j) => c.padEnd(widths[j]!)).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

/** Sleeps. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` over items with at most `limit` at once; resolves to results in order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
