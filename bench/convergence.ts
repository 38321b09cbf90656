// Target 4, convergence on the real control plane: one SampleSource with two adapter pods; the
// interval is patched and we time (a) until ConfigApplied is True for the new generation, as a
// watch sees it, and (b) until the sink has a heartbeat carrying the new interval from every pod.
// Baseline, same run: patch until the watch delivers the new generation at all (the apiserver's
// own floor, which every convergence includes).
//
//   npm run build && node dist/bench/convergence.js [--samples 40]
import { parseArgs } from 'node:util';
import { DevSink } from '../adapter/dev-sink.js';
import { createSource, getSource, patchSpec, waitForSource, isTrue } from '../test/e2e/source-helpers.js';
import { startBenchSystem, ensureNamespace } from './lib/system.js';
import { conditionStatus, watchSources, type SourceObj } from './lib/watch.js';
import { fmt, printTable, sleep, summarize, writeResult, type Summary } from './lib/report.js';
import { runBench } from './lib/run.js';

const NS = 'bench-convergence';
const NAME = 'conv';
const INTERVALS = ['300ms', '200ms'];
const INTERVAL_MS: Record<string, number> = { '300ms': 300, '200ms': 200 };

/** One measured patch. */
export interface ConvergenceSample {
  generation: number;
  interval: string;
  watchMs: number;
  appliedMs: number;
  sinkMs: number;
}

/** Patches `name` SAMPLES times and times each; shared with the scale benchmark. */
export async function measureConvergence(
  kc: import('@kubernetes/client-node').KubeConfig,
  sink: DevSink,
  ns: string,
  name: string,
  samples: number,
  replicas: number,
): Promise<{ samples: ConvergenceSample[]; failures: string[] }> {
  const seen = new Map<number, { watch?: number; applied?: number }>();
  const w = watchSources(kc, ns, (_type, obj: SourceObj) => {
    if (obj.metadata.name !== name) return;
    const now = performance.now();
    const g = obj.metadata.generation;
    const rec = seen.get(g) ?? {};
    rec.watch ??= now;
    if (obj.status?.observedGeneration === g && conditionStatus(obj, 'ConfigApplied') === 'True')
      rec.applied ??= now;
    seen.set(g, rec);
  });
  await w.ready;
  // Heartbeats by pod: arrival time of the first one carrying each interval after a mark.
  let mark = 0;
  let wantMs = 0;
  const firstNew = new Map<string, number>();
  const source = `/apis/v1/namespaces/${ns}/samplesources/${name}`;
  sink.onRequest = (r) => {
    const data = r.event?.data as { intervalMs?: number; podName?: string } | undefined;
    if (r.event?.source !== source || !data?.podName || r.arrivedAt < mark) return;
    if (data.intervalMs === wantMs && !firstNew.has(data.podName)) firstNew.set(data.podName, r.arrivedAt);
  };
  const out: ConvergenceSample[] = [];
  const failures: string[] = [];
  // Always patch to the interval the source does not have, or the patch is a no-op (same generation).
  let current = String(((await getSource(ns, name)).spec.interval as string | undefined) ?? '');
  for (let i = 0; i < samples; i++) {
    const interval = current === INTERVALS[0] ? INTERVALS[1]! : INTERVALS[0]!;
    current = interval;
    firstNew.clear();
    wantMs = INTERVAL_MS[interval]!;
    const t0 = performance.now();
    mark = t0;
    const patched = await patchSpec(ns, name, { interval });
    const g = patched.metadata.generation;
    const deadline = t0 + 30_000;
    while (performance.now() < deadline) {
      const rec = seen.get(g);
      if (rec?.applied !== undefined && firstNew.size >= replicas) break;
      await sleep(5);
    }
    const rec = seen.get(g);
    if (rec?.applied === undefined || rec.watch === undefined || firstNew.size < replicas) {
      failures.push(`generation ${g}: applied=${rec?.applied !== undefined} sinkPods=${firstNew.size}`);
    } else {
      out.push({
        generation: g,
        interval,
        watchMs: rec.watch - t0,
        appliedMs: rec.applied - t0,
        sinkMs: Math.max(...firstNew.values()) - t0,
      });
    }
    await sleep(250 + Math.random() * 250);
  }
  w.stop();
  sink.onRequest = undefined;
  return { samples: out, failures };
}

function row(label: string, s: Summary, target: string, base?: Summary): Array<string | number> {
  return [
    label,
    s.n,
    fmt(s.p50),
    fmt(s.p90),
    fmt(s.p99),
    fmt(s.max),
    target,
    base ? `${fmt(s.p50 / base.p50)}x` : '-',
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      samples: { type: 'string', default: '40' },
      replicas: { type: 'string', default: '2' },
    },
  });
  const SAMPLES = Number(values.samples);
  const REPLICAS = Number(values.replicas);
  const sys = await startBenchSystem();
  const sink = new DevSink();
  try {
    const url = await sink.start('127.0.0.1');
    await ensureNamespace(sys.kc, NS);
    await createSource(NS, NAME, { interval: '300ms', replicas: REPLICAS, sink: { uri: url.href } });
    const tReady = performance.now();
    await waitForSource(NS, NAME, 'Ready', (s) => isTrue(s, 'Ready'), 120_000);
    console.log(`source Ready with ${REPLICAS} adapter pods in ${Math.round(performance.now() - tReady)} ms`);
    // Warm-up: the first patches pay for JIT and connection set-up everywhere.
    await measureConvergence(sys.kc, sink, NS, NAME, 3, REPLICAS);
    const { samples, failures } = await measureConvergence(sys.kc, sink, NS, NAME, SAMPLES, REPLICAS);
    const watch = summarize(samples.map((s) => s.watchMs));
    const applied = summarize(samples.map((s) => s.appliedMs));
    const sinkSeen = summarize(samples.map((s) => s.sinkMs));
    console.log(
      `\nconvergence, ${samples.length} patches (${failures.length} failed), ${REPLICAS} adapter pods, ms:`,
    );
    printTable(
      ['measure', 'n', 'p50', 'p90', 'p99', 'max', 'target', 'p50 vs baseline'],
      [
        row('baseline: patch -> watch sees generation', watch, '-'),
        row('patch -> ConfigApplied True (new gen)', applied, 'p50<300 p99<1000', watch),
        row('patch -> sink sees new interval (all pods)', sinkSeen, '-', watch),
      ],
    );
    for (const f of failures) console.log(`failed: ${f}`);
    const file = writeResult('convergence', {
      replicas: REPLICAS,
      samples,
      failures,
      summary: { baselineWatch: watch, configApplied: applied, sinkCadence: sinkSeen },
      targets: { configAppliedP50Ms: 300, configAppliedP99Ms: 1000 },
      operatorRssBytes: sys.operatorRss(),
    });
    console.log(`\nresults: ${file}`);
  } finally {
    await sink.close();
    await sys.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runBench(main);
}
