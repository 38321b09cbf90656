// Shared-pool figures: placement movement on scale-out (against modulo hashing as the naive
// baseline), and one real pool pod holding 10,000 sources, in a process of its own
// (bench/pool-pod.ts) steered over real mTLS and sending to a real HTTP sink in this process:
// memory per source (heap and RSS separately, median over repetitions, each repetition a fresh
// pod process with its own empty-pool baseline, the shared layout alternating with the layout
// before it), convergence time of the paged snapshot, and the pod's share of an interval change
// (upsert sent → async result) with the 10,000 present.
// Prints figures; never part of the pass/fail tests.
//
//   npm run bench:pool                       (10,000 sources, 5 repetitions, paused and live)
//   npm run bench:pool -- --reps 7 --mode live --layouts shared --sets 20 --changes 100
import { fork, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { POOL_IDENTITY } from '../contract/identities.js';
import {
  OP_POOL_SNAPSHOT,
  OP_POOL_UPSERT,
  SNAPSHOT_PAGE_SIZE,
  type SourceAssignmentInput,
} from '../contract/pool.js';
import { MAX_START_PHASE_MS } from '../adapter/pool/pooled-source.js';
import { assignment, issuePoolCerts, type PoolCerts } from '../adapter/pool/testkit.js';
import { Steering } from '../adapter/testkit.js';
import { hash32, idealMovedFraction, loads, moved, place } from '../operator/pool/placement.js';
import type { PodReading, PodStart } from './pool-pod.js';

const { values } = parseArgs({
  options: {
    sources: { type: 'string', default: '10000' },
    sets: { type: 'string', default: '20' },
    reps: { type: 'string', default: '5' },
    // paused: every per-source object, nothing sent (the structure alone). live: every 60 s, measured
    // once every source has sent its first heartbeat (connections and timers in use).
    mode: { type: 'string', default: 'both' },
    // shared: this tree's layout. per-source: a Node timer and a connection pool per source (before).
    layouts: { type: 'string', default: 'shared,per-source' },
    // Interval changes timed per repetition (live mode only).
    changes: { type: 'string', default: '40' },
    // The GC before each reading: full (plain), reducing (memory-reducing, see bench/pool-pod.ts), or both.
    gc: { type: 'string', default: 'both' },
    // Extra Node options of the pod process, e.g. "--max-semi-space-size=2" (a young generation cap).
    'pod-args': { type: 'string', default: '' },
  },
});
const SOURCES = Number(values.sources);
const SETS = Number(values.sets);
const REPS = Number(values.reps);
const CHANGES = Number(values.changes);
const MODES = values.mode === 'both' ? ['paused', 'live'] : [values.mode];
const LAYOUTS = values.layouts.split(',') as PodStart['layout'][];
const GCS = (values.gc === 'both' ? ['full', 'reducing'] : [values.gc]) as PodStart['gc'][];
const LIVE_INTERVAL = '60s';

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const fmt = (x: number, d = 2) => x.toFixed(d);
const pods = (n: number) => Array.from({ length: n }, (_, i) => `samplesource-pool-${i}`);

function placementFigures(): void {
  const ratios: number[] = [];
  const moduloRatios: number[] = [];
  const overMean: number[] = [];
  const placeMs: number[] = [];
  for (let set = 0; set < SETS; set++) {
    const keys = Array.from({ length: SOURCES }, (_, i) => `ns-${set}-${i % 97}/source-${i}`);
    // Alternate which method runs first so neither always gets the warmer JIT.
    const runModulo = () => {
      const owner = (n: number) => new Map(keys.map((k) => [k, `p${hash32(k) % n}`]));
      moduloRatios.push(moved(owner(3), owner(4)).length / SOURCES / idealMovedFraction(3, 4));
    };
    if (set % 2) runModulo();
    const t0 = performance.now();
    const three = place(keys, pods(3));
    placeMs.push(performance.now() - t0);
    const four = place(keys, pods(4));
    ratios.push(moved(three, four).length / SOURCES / idealMovedFraction(3, 4));
    const max = Math.max(...loads(four, pods(4)).values());
    overMean.push(max / (SOURCES / 4) - 1);
    if (!(set % 2)) runModulo();
  }
  console.log(`placement, ${SOURCES} sources, ${SETS} key sets, scale-out 3 → 4 (ideal moved 1/4):`);
  console.log(
    `  bounded-load CH: moved/ideal median ${fmt(quantile(ratios, 0.5))}x, worst ${fmt(Math.max(...ratios))}x; busiest pod +${fmt(100 * Math.max(...overMean), 1)} % over the mean`,
  );
  console.log(
    `  modulo hashing (baseline): moved/ideal median ${fmt(quantile(moduloRatios, 0.5))}x, worst ${fmt(Math.max(...moduloRatios))}x`,
  );
  console.log(
    `  place() of ${SOURCES} on 3 pods: median ${fmt(quantile(placeMs, 0.5), 1)} ms, p99 ${fmt(quantile(placeMs, 0.99), 1)} ms`,
  );
}

interface Repetition {
  layout: PodStart['layout'];
  mode: string;
  gc: PodStart['gc'];
  /** Bytes per source against the empty pod just started (one-off costs of the first fill included). */
  heapTotal: number;
  rssTotal: number;
  /** Bytes per source added, from N/2 running to N running (the slope: one-off costs excluded). */
  heapSlope: number;
  rssSlope: number;
  convergeMs: number;
  changeMs: number[];
}

/** A pool pod process and its steering client. */
class Pod {
  private constructor(
    private readonly child: ChildProcess,
    readonly steer: Steering,
  ) {}

  static async start(certs: PoolCerts, layout: PodStart['layout'], gc: PodStart['gc']): Promise<Pod> {
    const child = fork(fileURLToPath(new URL('./pool-pod.ts', import.meta.url)), [], {
      execArgv: [...process.execArgv, ...values['pod-args'].split(' ').filter(Boolean)],
      stdio: 'inherit',
    });
    const { controlPort } = await new Promise<{ controlPort: number }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { controlPort: number }));
      child.once('exit', (code) => reject(new Error(`pool pod exited with ${code}`)));
      child.send({ tlsDir: certs.poolTlsDir, layout, gc } satisfies PodStart);
    });
    const steer = new Steering({
      target: `127.0.0.1:${controlPort}`,
      tls: certs.operator,
      adapterIdentity: POOL_IDENTITY,
    }).start();
    return new Pod(child, steer);
  }

  read(): Promise<PodReading> {
    return new Promise((resolve) => {
      this.child.once('message', (m) => resolve(m as PodReading));
      this.child.send({ measure: true });
    });
  }

  /** Sends `sources` as one snapshot version in pages; resolves once every page is answered. */
  async snapshot(version: number, sources: SourceAssignmentInput[]): Promise<void> {
    const pages = Math.max(1, Math.ceil(sources.length / SNAPSHOT_PAGE_SIZE));
    const results = await Promise.all(
      Array.from({ length: pages }, (_, page) =>
        this.steer.run(
          OP_POOL_SNAPSHOT,
          {
            version,
            page,
            last: page === pages - 1,
            sources: sources.slice(page * SNAPSHOT_PAGE_SIZE, (page + 1) * SNAPSHOT_PAGE_SIZE),
          },
          120_000,
        ),
      ),
    );
    const failed = results.find((r) => !r.succeeded);
    if (failed) throw new Error(`snapshot version ${version} failed: ${failed.message}`);
  }

  async close(): Promise<void> {
    await this.steer.close();
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send({ close: true });
    await exited;
  }
}

async function repetition(
  certs: PoolCerts,
  url: URL,
  layout: PodStart['layout'],
  mode: string,
  gc: PodStart['gc'],
  rep: number,
): Promise<Repetition> {
  const pod = await Pod.start(certs, layout, gc);
  try {
    await pod.snapshot(1, []);
    const empty = await pod.read();
    const live = mode === 'live';
    const all = Array.from({ length: SOURCES }, (_, i) =>
      assignment(`bench-${i % 97}/source-${i}`, url, { interval: LIVE_INTERVAL, paused: !live }),
    );
    const half = Math.floor(SOURCES / 2);
    // Live: every source's first tick falls within MAX_START_PHASE_MS; read after all of them.
    const settle = () => sleep(live ? MAX_START_PHASE_MS + 3_000 : 1_000);
    await pod.snapshot(2, all.slice(0, half));
    await settle();
    const halfway = await pod.read();
    await pod.snapshot(3, all);
    await settle();
    const full = await pod.read();
    if (full.sources !== SOURCES) throw new Error(`${full.sources} sources running, not ${SOURCES}`);
    const changeMs: number[] = [];
    for (let i = 0; live && i < CHANGES; i++) {
      const a = all[(i * 7919 + rep * 104_729) % SOURCES]!;
      const started = performance.now();
      const r = await pod.steer.run(OP_POOL_UPSERT, {
        version: 4 + i,
        source: { ...a, generation: 2 + i, interval: i % 2 ? '30s' : '45s' },
      });
      if (!r.succeeded) throw new Error(`upsert failed: ${r.message}`);
      changeMs.push(performance.now() - started);
    }
    // Convergence from empty to all, timed after the readings (the drain leaves freed memory).
    await pod.snapshot(1_000, []);
    const t0 = performance.now();
    await pod.snapshot(1_001, all);
    const convergeMs = performance.now() - t0;
    return {
      layout,
      mode,
      heapTotal: (full.heapUsed - empty.heapUsed) / SOURCES,
      gc,
      rssTotal: (full.rss - empty.rss) / SOURCES,
      heapSlope: (full.heapUsed - halfway.heapUsed) / (SOURCES - half),
      rssSlope: (full.rss - halfway.rss) / (SOURCES - half),
      convergeMs,
      changeMs,
    };
  } finally {
    await pod.close();
  }
}

async function poolFigures(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-pool-'));
  // A real HTTP sink that only reads each request and answers 202: this process must keep up
  // with 10,000 sources on a loaded machine, or the pod's readings would count sends held up
  // in flight (the DevSink's CloudEvent parsing fell behind under load).
  let received = 0;
  const sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const url = new URL(`http://127.0.0.1:${(sink.address() as AddressInfo).port}/`);
  try {
    const certs = await issuePoolCerts(dir);
    const runs: Repetition[] = [];
    for (const mode of MODES) {
      for (let rep = 0; rep < REPS; rep++) {
        // Alternate which layout runs first, so neither always meets the same machine load.
        const order = rep % 2 ? [...LAYOUTS].reverse() : LAYOUTS;
        for (const gc of GCS)
          for (const layout of order) {
            const r = await repetition(certs, url, layout, mode, gc, rep);
            runs.push(r);
            console.log(
              `  ${mode} ${gc} GC rep ${rep + 1}/${REPS} ${layout}: heap ${fmt(r.heapTotal, 0)} B/src (slope ${fmt(r.heapSlope, 0)}), RSS ${fmt(r.rssTotal, 0)} B/src (slope ${fmt(r.rssSlope, 0)}), load ${loadavg()[0]!.toFixed(2)}`,
            );
          }
      }
    }
    console.log(
      `\none pool pod process, ${SOURCES} sources, ${REPS} repetitions each (a fresh pod per repetition), bytes per source, median [min–max]:`,
    );
    console.log('  (over the empty pod: (N running − empty) / N; slope: (N running − N/2 running) / (N/2))');
    const span = (xs: number[], d = 0) =>
      `${fmt(quantile(xs, 0.5), d)} [${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)}]`;
    const medians = new Map<string, number>();
    for (const mode of MODES) {
      for (const gc of GCS) {
        for (const layout of LAYOUTS) {
          const rs = runs.filter((r) => r.mode === mode && r.gc === gc && r.layout === layout);
          const pick = (f: (r: Repetition) => number) => rs.map(f);
          const med = (f: (r: Repetition) => number) => quantile(pick(f), 0.5);
          medians.set(
            `${mode}/${gc}/${layout}/heap`,
            med((r) => r.heapTotal),
          );
          medians.set(
            `${mode}/${gc}/${layout}/rss`,
            med((r) => r.rssTotal),
          );
          console.log(`  ${mode}, ${gc} GC, ${layout}:`);
          console.log(
            `    heap: ${span(pick((r) => r.heapTotal))} over the empty pod; slope ${span(pick((r) => r.heapSlope))}`,
          );
          console.log(
            `    RSS:  ${span(pick((r) => r.rssTotal))} over the empty pod; slope ${span(pick((r) => r.rssSlope))}`,
          );
          console.log(
            `    snapshot of ${SOURCES} sent → converged: ${span(
              pick((r) => r.convergeMs / 1000),
              2,
            )} s`,
          );
          const changes = rs.flatMap((r) => r.changeMs);
          if (changes.length > 0)
            console.log(
              `    interval change, upsert sent → async result (${changes.length} changes): p50 ${fmt(quantile(changes, 0.5), 1)} ms, p99 ${fmt(quantile(changes, 0.99), 1)} ms`,
            );
        }
        const [a, b] = LAYOUTS;
        const ratio = (what: string) =>
          fmt(medians.get(`${mode}/${gc}/${a}/${what}`)! / medians.get(`${mode}/${gc}/${b}/${what}`)!, 2);
        if (a && b)
          console.log(
            `  ${mode}, ${gc} GC: per source over the empty pod, ${a} / ${b}: heap ${ratio('heap')}, RSS ${ratio('rss')}`,
          );
      }
    }
  } finally {
    console.log(`  (the sink answered ${received} heartbeats)`);
    sink.closeAllConnections();
    await new Promise((resolve) => sink.close(resolve));
    await rm(dir, { recursive: true, force: true });
  }
}

const stamp = () =>
  `${new Date().toISOString()}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
console.log(stamp());
console.log(`  pod process: node ${[...process.execArgv, values['pod-args']].join(' ')}`);
placementFigures();
await poolFigures();
console.log(stamp());
