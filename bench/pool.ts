// Shared-pool figures: placement movement on scale-out (against modulo hashing as the naive
// baseline), and one real pool pod (in this process, over real mTLS, real HTTP sink) holding
// 10,000 sources: convergence time of the paged snapshot, memory per source, and the pod's
// share of an interval change (upsert sent → async result) with the 10,000 present.
// Prints figures; never part of the pass/fail tests.
//
//   node --expose-gc --experimental-transform-types --no-warnings --import ./adapter/ts-hooks.mjs bench/pool.ts
//   … bench/pool.ts --sources 10000 --sets 20 --changes 200
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { POOL_IDENTITY } from '../contract/identities.js';
import { OP_POOL_SNAPSHOT, OP_POOL_UPSERT, SNAPSHOT_PAGE_SIZE } from '../contract/pool.js';
import { DevSink } from '../adapter/dev-sink.js';
import { loadPoolConfig } from '../adapter/pool/config.js';
import { startPoolAdapter } from '../adapter/pool/pool-adapter.js';
import { assignment, issuePoolCerts } from '../adapter/pool/testkit.js';
import { Steering } from '../adapter/testkit.js';
import { hash32, idealMovedFraction, loads, moved, place } from '../operator/pool/placement.js';

const { values } = parseArgs({
  options: {
    sources: { type: 'string', default: '10000' },
    sets: { type: 'string', default: '20' },
    changes: { type: 'string', default: '200' },
    // Paused sources hold every per-source object but send nothing: memory of the structure alone.
    paused: { type: 'boolean', default: false },
  },
});
const SOURCES = Number(values.sources);
const SETS = Number(values.sets);
const CHANGES = Number(values.changes);

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const fmt = (x: number, d = 2) => x.toFixed(d);
const pods = (n: number) => Array.from({ length: n }, (_, i) => `samplesource-pool-${i}`);
const gc = () => (globalThis as { gc?: () => void }).gc?.();

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

async function poolFigures(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-pool-'));
  const sink = new DevSink();
  const url = await sink.start();
  try {
    const certs = await issuePoolCerts(dir);
    const config = loadPoolConfig({
      POD_NAME: 'bench-pool-0',
      CONTROL_ADDRESS: '127.0.0.1',
      CONTROL_PORT: '0',
      HEALTH_PORT: '0',
      CONTROL_TLS_DIR: certs.poolTlsDir,
      LOG_LEVEL: 'silent',
    });
    const pod = await startPoolAdapter(config, pino({ level: 'silent' }), { defaultMetrics: false });
    const steer = new Steering({
      target: `127.0.0.1:${pod.controlPort}`,
      tls: certs.operator,
      adapterIdentity: POOL_IDENTITY,
    }).start();
    await steer.run(OP_POOL_SNAPSHOT, { version: 1, page: 0, last: true, sources: [] });
    // The sink's own records would count as pool memory: drop them as they arrive.
    sink.onRequest = () => void sink.requests.splice(0);
    gc();
    await new Promise((r) => setTimeout(r, 200));
    gc();
    const before = process.memoryUsage();
    const all = Array.from({ length: SOURCES }, (_, i) =>
      assignment(`bench-${i % 97}/source-${i}`, url, { interval: '60s', paused: values.paused }),
    );
    const t0 = performance.now();
    const pages = Math.ceil(SOURCES / SNAPSHOT_PAGE_SIZE);
    const sends: Promise<unknown>[] = [];
    for (let page = 0; page < pages; page++)
      sends.push(
        steer.run(
          OP_POOL_SNAPSHOT,
          {
            version: 2,
            page,
            last: page === pages - 1,
            sources: all.slice(page * SNAPSHOT_PAGE_SIZE, (page + 1) * SNAPSHOT_PAGE_SIZE),
          },
          120_000,
        ),
      );
    await Promise.all(sends);
    const convergeMs = performance.now() - t0;
    // Let the first tick of every source reach the sink, then measure at rest.
    await new Promise((r) => setTimeout(r, 5_000));
    gc();
    await new Promise((r) => setTimeout(r, 200));
    gc();
    const after = process.memoryUsage();
    console.log(
      `one pool pod, ${SOURCES} sources${values.paused ? ' (paused)' : ' every 60 s'} (real mTLS stream, real HTTP sink):`,
    );
    console.log(
      `  snapshot of ${pages} pages sent → all running: ${fmt(convergeMs / 1000, 2)} s (pool.size ${pod.pool.size})`,
    );
    console.log(
      `  memory per source: heap ${fmt((after.heapUsed - before.heapUsed) / SOURCES, 0)} B, RSS ${fmt((after.rss - before.rss) / SOURCES, 0)} B (RSS includes allocator slack)`,
    );
    const latencies: number[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const a = all[(i * 7919) % SOURCES]!;
      const s = performance.now();
      const r = await steer.run(OP_POOL_UPSERT, {
        version: 3 + i,
        source: { ...a, generation: 2 + i, interval: i % 2 ? '30s' : '45s' },
      });
      if (!r.succeeded) throw new Error(`upsert failed: ${r.message}`);
      latencies.push(performance.now() - s);
    }
    console.log(
      `  interval change with ${SOURCES} present, upsert sent → async result (${CHANGES} changes): p50 ${fmt(quantile(latencies, 0.5), 1)} ms, p99 ${fmt(quantile(latencies, 0.99), 1)} ms`,
    );
    await steer.close();
    await pod.close();
  } finally {
    await sink.close();
    await rm(dir, { recursive: true, force: true });
  }
}

placementFigures();
await poolFigures();
