// Target 5, scale: 1,000 SampleSources created at once against the real control plane with the
// real operator. Their adapter pods are kept out of the picture (the node agent runs pods only in
// the operator's namespace and in bench-live, so the 1,000 adapter pods stay Pending and no session
// opens); "reconciled" means: the adapter Deployment and the certificate Secret exist and
// status.observedGeneration == metadata.generation, for all 1,000. Operator RSS from /proc VmRSS.
// Then one live source (two adapter pods that really run) has its interval patched while the
// 1,000 sit idle; its convergence before the 1,000 existed is the same-run baseline.
//
//   npm run build && node dist/bench/scale.js [--sources 1000] [--samples 30]
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { DevSink } from '../adapter/dev-sink.js';
import { createSource, isTrue, waitForSource } from '../test/e2e/source-helpers.js';
import { ensureNamespace, startBenchSystem } from './lib/system.js';
import { measureConvergence } from './convergence.js';
import { fmt, mapLimit, printTable, rssOf, sleep, summarize, writeResult } from './lib/report.js';
import { runBench } from './lib/run.js';

const { values } = parseArgs({
  options: {
    sources: { type: 'string', default: '1000' },
    samples: { type: 'string', default: '30' },
    concurrency: { type: 'string', default: '50' },
    'operator-env': { type: 'string', default: '' },
  },
});
const SOURCES = Number(values.sources);
const SAMPLES = Number(values.samples);
const CONCURRENCY = Number(values.concurrency);
const SCALE_NS = 'bench-scale';
const LIVE_NS = 'bench-live';
const UID_LABEL = 'samples.knative.dev/source-uid';

interface Progress {
  atMs: number;
  observed: number;
  deployments: number;
  secrets: number;
  reconciled: number;
  operatorRss?: number;
}

/**
 * Tracks reconcile progress from three watches (sources, adapter Deployments, certificate Secrets)
 * instead of polling lists, so that measuring adds next to no load to the apiserver.
 */
function trackProgress(kc: k8s.KubeConfig) {
  const generation = new Map<string, { generation: number; observed?: number }>();
  const deployments = new Set<string>();
  const secrets = new Set<string>();
  const watch = new k8s.Watch(kc);
  const aborts: Array<{ abort(): void }> = [];
  let stopped = false;
  const open = (
    path: string,
    query: Record<string, string>,
    on: (type: string, obj: k8s.KubernetesObject & { status?: { observedGeneration?: number } }) => void,
  ) => {
    const start = (): void => {
      if (stopped) return;
      void watch
        .watch(path, query, on, () => setTimeout(start, 100))
        .then((a) => void aborts.push(a))
        .catch(() => setTimeout(start, 500));
    };
    start();
  };
  open(`/apis/samples.knative.dev/v1alpha1/namespaces/${SCALE_NS}/samplesources`, {}, (type, o) => {
    const uid = o.metadata?.uid ?? '';
    if (type === 'DELETED') generation.delete(uid);
    else
      generation.set(uid, {
        generation: o.metadata?.generation ?? 0,
        ...(o.status?.observedGeneration !== undefined ? { observed: o.status.observedGeneration } : {}),
      });
  });
  const byLabel = (set: Set<string>) => (type: string, o: k8s.KubernetesObject) => {
    const uid = o.metadata?.labels?.[UID_LABEL];
    if (!uid) return;
    if (type === 'DELETED') set.delete(uid);
    else set.add(uid);
  };
  open(
    `/apis/apps/v1/namespaces/${SCALE_NS}/deployments`,
    { labelSelector: UID_LABEL },
    byLabel(deployments),
  );
  open(`/api/v1/namespaces/${SCALE_NS}/secrets`, { labelSelector: UID_LABEL }, byLabel(secrets));
  return {
    snapshot(t0: number, rss: number | undefined): Progress {
      let observed = 0;
      let reconciled = 0;
      for (const [uid, g] of generation) {
        if (g.observed !== g.generation) continue;
        observed++;
        if (deployments.has(uid) && secrets.has(uid)) reconciled++;
      }
      return {
        atMs: performance.now() - t0,
        observed,
        deployments: deployments.size,
        secrets: secrets.size,
        reconciled,
        ...(rss !== undefined ? { operatorRss: rss } : {}),
      };
    },
    stop() {
      stopped = true;
      for (const a of aborts) a.abort();
    },
  };
}

async function main(): Promise<void> {
  const operatorEnv = values['operator-env'] ? values['operator-env'].split(',') : [];
  const sys = await startBenchSystem({ adapterNamespaces: [LIVE_NS], operatorEnv });
  const sink = new DevSink();
  let maxRss = 0;
  const rssSamples: Array<{ atMs: number; rss: number }> = [];
  const tStart = performance.now();
  const sampler = setInterval(() => {
    const rss = sys.operatorRss();
    if (rss) {
      maxRss = Math.max(maxRss, rss);
      rssSamples.push({ atMs: performance.now() - tStart, rss });
    }
  }, 250);
  try {
    const url = await sink.start('127.0.0.1');
    await ensureNamespace(sys.kc, LIVE_NS);
    await ensureNamespace(sys.kc, SCALE_NS);
    await createSource(LIVE_NS, 'live', { interval: '300ms', replicas: 2, sink: { uri: url.href } });
    await waitForSource(LIVE_NS, 'live', 'Ready', (s) => isTrue(s, 'Ready'), 120_000);
    await measureConvergence(sys.kc, sink, LIVE_NS, 'live', 3, 2);
    const alone = await measureConvergence(sys.kc, sink, LIVE_NS, 'live', SAMPLES, 2);
    const rssIdle = sys.operatorRss() ?? 0;
    console.log(
      `baseline: live source alone, ConfigApplied p50 ${fmt(summarize(alone.samples.map((s) => s.appliedMs)).p50)} ms; operator RSS ${fmt(rssIdle / 2 ** 20)} MiB`,
    );

    const tracker = trackProgress(sys.kc);
    await sleep(1_000);
    // The burst: every create in flight CONCURRENCY at a time, as fast as the apiserver takes them.
    const t0 = performance.now();
    const names = Array.from({ length: SOURCES }, (_, i) => `s${String(i).padStart(4, '0')}`);
    let createErrors = 0;
    await mapLimit(names, CONCURRENCY, (name) =>
      createSource(SCALE_NS, name, { interval: '10s', sink: { uri: url.href } }).catch(
        () => void createErrors++,
      ),
    );
    const createdMs = performance.now() - t0;
    console.log(
      `${SOURCES - createErrors} SampleSources created in ${fmt(createdMs / 1000)} s (${createErrors} errors)`,
    );
    const timeline: Progress[] = [];
    let doneMs: number | undefined;
    while (performance.now() - t0 < 300_000) {
      const p = tracker.snapshot(t0, sys.operatorRss());
      timeline.push(p);
      if (p.reconciled >= SOURCES) {
        doneMs = p.atMs;
        break;
      }
      await sleep(250);
    }
    const last = timeline.at(-1);
    console.log(
      doneMs !== undefined
        ? `all ${SOURCES} reconciled ${fmt(doneMs / 1000)} s after the first create`
        : `NOT all reconciled after 300 s: ${JSON.stringify(last)}`,
    );
    tracker.stop();
    await sleep(10_000);
    const rssAfter = sys.operatorRss() ?? 0;
    await measureConvergence(sys.kc, sink, LIVE_NS, 'live', 3, 2);
    const busy = await measureConvergence(sys.kc, sink, LIVE_NS, 'live', SAMPLES, 2);
    const rssEnd = sys.operatorRss() ?? 0;
    const a = summarize(alone.samples.map((s) => s.appliedMs));
    const b = summarize(busy.samples.map((s) => s.appliedMs));
    const aSink = summarize(alone.samples.map((s) => s.sinkMs));
    const bSink = summarize(busy.samples.map((s) => s.sinkMs));
    console.log(
      `\nscale: ${SOURCES} SampleSources, adapter pods Pending (no sessions); operator env: ${operatorEnv.join(' ') || 'config/ defaults'}`,
    );
    printTable(
      ['measure', 'figure', 'target'],
      [
        ['create burst (client side)', `${fmt(createdMs / 1000)} s`, '-'],
        [
          'first create -> all reconciled',
          doneMs !== undefined ? `${fmt(doneMs / 1000)} s` : `> 300 s (${last?.reconciled ?? 0} done)`,
          '< 60 s',
        ],
        ['operator RSS peak', `${fmt(maxRss / 2 ** 20)} MiB`, '< 300 MiB'],
        [
          'operator RSS idle before / 10 s after / end',
          `${fmt(rssIdle / 2 ** 20)} / ${fmt(rssAfter / 2 ** 20)} / ${fmt(rssEnd / 2 ** 20)} MiB`,
          '-',
        ],
      ],
    );
    console.log(`\nlive source (2 adapter pods) interval patch -> ConfigApplied True, ms:`);
    printTable(
      ['measure', 'n', 'p50', 'p99', 'max', 'target', 'p50 vs alone'],
      [
        ['alone (baseline)', a.n, fmt(a.p50), fmt(a.p99), fmt(a.max), 'p50<300 p99<1000', '-'],
        [
          `with ${SOURCES} idle sources`,
          b.n,
          fmt(b.p50),
          fmt(b.p99),
          fmt(b.max),
          'p50<300 p99<1000',
          `${fmt(b.p50 / a.p50)}x`,
        ],
        ['sink sees new interval, alone', aSink.n, fmt(aSink.p50), fmt(aSink.p99), fmt(aSink.max), '-', '-'],
        [
          `sink sees new interval, with ${SOURCES}`,
          bSink.n,
          fmt(bSink.p50),
          fmt(bSink.p99),
          fmt(bSink.max),
          '-',
          `${fmt(bSink.p50 / aSink.p50)}x`,
        ],
      ],
    );
    const file = writeResult('scale', {
      sources: SOURCES,
      operatorEnv,
      concurrency: CONCURRENCY,
      createdMs,
      createErrors,
      reconciledMs: doneMs ?? null,
      timeline,
      operatorRss: { peak: maxRss, idleBefore: rssIdle, after: rssAfter, end: rssEnd, samples: rssSamples },
      convergence: {
        alone: { summary: a, sink: aSink, samples: alone.samples, failures: alone.failures },
        with1000: { summary: b, sink: bSink, samples: busy.samples, failures: busy.failures },
      },
      targets: { reconciledMs: 60_000, operatorRssBytes: 300 * 2 ** 20 },
    });
    console.log(`\nresults: ${file}`);
    if (operatorEnv.some((e) => e.includes('--cpu-prof'))) {
      // A CPU profile is written when the process exits on its own: SIGTERM, then wait for it.
      const pid = sys.operatorPid();
      if (pid) {
        process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 300 && rssOf(pid) !== undefined; i++) await sleep(100);
        console.log('operator stopped for its CPU profile');
      }
    }
  } finally {
    clearInterval(sampler);
    await sink.close();
    await sys.stop();
  }
}

runBench(main);
