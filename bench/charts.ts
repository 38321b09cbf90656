// Charts for docs/benchmarks.md, drawn from bench/results/*.json as plain SVG (no dependencies):
// latency histograms, time series and bars. Re-run after the benchmarks:
//
//   npm run build && node dist/bench/charts.js
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './lib/report.js';

const OUT = join(repoRoot, 'docs/benchmarks');
const W = 640;
const H = 300;
const M = { l: 60, r: 20, t: 36, b: 46 };
const COLORS = ['#3b6ea5', '#d9822b', '#4a9d5b', '#b04a5a', '#7a5aa6'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function frame(
  title: string,
  xLabel: string,
  yLabel: string,
  xMax: number,
  yMax: number,
  body: string[],
  xMin = 0,
): string {
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const ticks: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const xv = xMin + ((xMax - xMin) * i) / 5;
    const x = M.l + (pw * i) / 5;
    ticks.push(`<line x1="${x}" y1="${M.t + ph}" x2="${x}" y2="${M.t + ph + 4}" stroke="#333"/>`);
    ticks.push(
      `<text x="${x}" y="${M.t + ph + 16}" font-size="11" text-anchor="middle">${+xv.toPrecision(3)}</text>`,
    );
    const yv = (yMax * i) / 5;
    const y = M.t + ph - (ph * i) / 5;
    ticks.push(`<line x1="${M.l - 4}" y1="${y}" x2="${M.l}" y2="${y}" stroke="#333"/>`);
    ticks.push(`<line x1="${M.l}" y1="${y}" x2="${M.l + pw}" y2="${y}" stroke="#eee"/>`);
    ticks.push(
      `<text x="${M.l - 6}" y="${y + 4}" font-size="11" text-anchor="end">${+yv.toPrecision(3)}</text>`,
    );
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" font-size="14" text-anchor="middle">${esc(title)}</text>`,
    ...ticks,
    ...body,
    `<line x1="${M.l}" y1="${M.t + ph}" x2="${M.l + pw}" y2="${M.t + ph}" stroke="#333"/>`,
    `<line x1="${M.l}" y1="${M.t}" x2="${M.l}" y2="${M.t + ph}" stroke="#333"/>`,
    `<text x="${M.l + pw / 2}" y="${H - 8}" font-size="12" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="14" y="${M.t + ph / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${M.t + ph / 2})">${esc(yLabel)}</text>`,
    '</svg>',
  ].join('\n');
}

function legend(names: string[]): string[] {
  return names.map(
    (n, i) =>
      `<rect x="${M.l + 10}" y="${M.t + 6 + i * 16}" width="10" height="10" fill="${COLORS[i % COLORS.length]}" opacity="0.7"/>` +
      `<text x="${M.l + 26}" y="${M.t + 15 + i * 16}" font-size="11">${esc(n)}</text>`,
  );
}

function vline(x: number, xMax: number, label: string, xMin = 0): string {
  const pw = W - M.l - M.r;
  const px = M.l + (pw * (x - xMin)) / (xMax - xMin);
  return `<line x1="${px}" y1="${M.t}" x2="${px}" y2="${H - M.b}" stroke="#c00" stroke-dasharray="4 3"/><text x="${px - 4}" y="${M.t + 10}" font-size="11" fill="#c00" text-anchor="end">${esc(label)}</text>`;
}

/** Overlaid histograms of several series, with optional target lines. */
export function histogram(
  title: string,
  xLabel: string,
  series: Array<{ name: string; values: number[] }>,
  targets: Array<{ at: number; label: string }> = [],
  bins = 30,
): string {
  const all = series.flatMap((s) => s.values);
  const xMax = niceMax(Math.max(...all, ...targets.map((t) => t.at)) * 1.02);
  const width = xMax / bins;
  const counts = series.map((s) => {
    const c = new Array<number>(bins).fill(0);
    for (const v of s.values) c[Math.min(bins - 1, Math.floor(v / width))]!++;
    return c;
  });
  const yMax = niceMax(Math.max(...counts.flat()));
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const body: string[] = [];
  counts.forEach((c, si) =>
    c.forEach((n, i) => {
      if (!n) return;
      const h = (ph * n) / yMax;
      body.push(
        `<rect x="${M.l + (pw * i) / bins + 1}" y="${M.t + ph - h}" width="${pw / bins - 2}" height="${h}" fill="${COLORS[si % COLORS.length]}" opacity="0.6"/>`,
      );
    }),
  );
  for (const t of targets) body.push(vline(t.at, xMax, t.label));
  body.push(...legend(series.map((s) => `${s.name} (n=${s.values.length})`)));
  return frame(title, xLabel, 'count', xMax, yMax, body);
}

/** Line chart of several (x, y) series. */
export function lines(
  title: string,
  xLabel: string,
  yLabel: string,
  series: Array<{ name: string; points: Array<[number, number]> }>,
  hTargets: Array<{ at: number; label: string }> = [],
): string {
  const xMax = niceMax(Math.max(...series.flatMap((s) => s.points.map((p) => p[0]))));
  const yMax = niceMax(
    Math.max(...series.flatMap((s) => s.points.map((p) => p[1])), ...hTargets.map((t) => t.at)) * 1.05,
  );
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const body = series.map((s, i) => {
    const d = s.points
      .map(
        ([x, y], j) =>
          `${j ? 'L' : 'M'}${(M.l + (pw * x) / xMax).toFixed(1)},${(M.t + ph - (ph * y) / yMax).toFixed(1)}`,
      )
      .join('');
    return `<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"/>`;
  });
  for (const t of hTargets) {
    const y = M.t + ph - (ph * t.at) / yMax;
    body.push(
      `<line x1="${M.l}" y1="${y}" x2="${M.l + pw}" y2="${y}" stroke="#c00" stroke-dasharray="4 3"/><text x="${M.l + pw - 4}" y="${y - 4}" font-size="11" fill="#c00" text-anchor="end">${esc(t.label)}</text>`,
    );
  }
  body.push(...legend(series.map((s) => s.name)));
  return frame(title, xLabel, yLabel, xMax, yMax, body);
}

function read(name: string): Record<string, unknown> | undefined {
  const file = join(repoRoot, 'bench/results', `${name}.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : undefined;
}

function write(name: string, svg: string): void {
  writeFileSync(join(OUT, name), `${svg}\n`);
  console.log(`docs/benchmarks/${name}`);
}

// The shapes of the result files' series, as the benchmarks write them.
type Samples = Array<{ watchMs: number; appliedMs: number; sinkMs: number }>;
type ScaleTimeline = Array<{ atMs: number; reconciled: number; deployments: number; observed: number }>;
type SoakMemory = Array<{ atS: number; heapUsed: number; rss: number; hostRss: number; hostHeap: number }>;

function main(): void {
  mkdirSync(OUT, { recursive: true });
  const conv = read('convergence');
  if (conv) {
    const s = conv.samples as Samples;
    write(
      'convergence.svg',
      histogram(
        'Interval patch on a 2-pod source: latency (target 4)',
        'ms after the patch',
        [
          { name: 'baseline: watch sees the new generation', values: s.map((x) => x.watchMs) },
          { name: 'ConfigApplied True for the new generation', values: s.map((x) => x.appliedMs) },
          { name: 'sink sees the new interval from both pods', values: s.map((x) => x.sinkMs) },
        ],
        [{ at: 300, label: 'p50 target 300 ms' }],
      ),
    );
  }
  const fan = read('fanout');
  if (fan) {
    const rounds = fan.rounds as Array<{ allResultsMs: number; allAckedMs: number }>;
    write(
      'fanout.svg',
      lines(
        `ApplyState to ${String(fan.sessions)} sessions: time until all results are back (target 3)`,
        'round',
        'ms',
        [
          { name: 'all async results back', points: rounds.map((r, i) => [i + 1, r.allResultsMs]) },
          { name: 'all acks back', points: rounds.map((r, i) => [i + 1, r.allAckedMs]) },
        ],
        [{ at: 1000, label: 'p50 target 1 s' }],
      ),
    );
  }
  const rec = read('recovery');
  if (rec) {
    const runs = rec.runs as Array<{ label: string; toResync: number[] }>;
    write(
      'recovery.svg',
      histogram(
        'Adapter restart: listen until resynced (target 7)',
        'ms after the server listens again',
        runs.map((r) => ({ name: r.label, values: r.toResync })),
        [{ at: 1000, label: 'target 1 s' }],
        25,
      ),
    );
  }
  const scale = read('scale');
  if (scale) {
    const tl = scale.timeline as ScaleTimeline;
    write(
      'scale-reconciled.svg',
      lines(
        `${String(scale.sources)} SampleSources created at once: progress (target 5)`,
        's after the first create',
        'sources',
        [
          {
            name: 'reconciled (Deployment + Secret + observedGeneration)',
            points: tl.map((p) => [p.atMs / 1000, p.reconciled]),
          },
          { name: 'Deployments', points: tl.map((p) => [p.atMs / 1000, p.deployments]) },
          { name: 'observedGeneration current', points: tl.map((p) => [p.atMs / 1000, p.observed]) },
        ],
      ),
    );
    const rss = (scale.operatorRss as { samples: Array<{ atMs: number; rss: number }> }).samples;
    write(
      'scale-rss.svg',
      lines(
        'Operator RSS during the scale run (target 5)',
        's since the system started',
        'MiB',
        [{ name: 'operator VmRSS', points: rss.map((p) => [p.atMs / 1000, p.rss / 2 ** 20]) }],
        [{ at: 300, label: 'target 300 MiB' }],
      ),
    );
  }
  const soak = read('soak');
  if (soak) {
    const mem = soak.memory as SoakMemory;
    write(
      'soak-memory.svg',
      lines('Soak: memory over time (drill)', 's', 'MiB', [
        { name: 'steering RSS', points: mem.map((m) => [m.atS, m.rss / 2 ** 20]) },
        { name: 'steering heap (after GC)', points: mem.map((m) => [m.atS, m.heapUsed / 2 ** 20]) },
        { name: 'adapter host RSS', points: mem.map((m) => [m.atS, m.hostRss / 2 ** 20]) },
        { name: 'adapter host heap (after GC)', points: mem.map((m) => [m.atS, m.hostHeap / 2 ** 20]) },
      ]),
    );
  }
}

main();
