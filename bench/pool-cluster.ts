// Issue 12's cluster benchmarks for the shared pool, against the real control plane with the real
// operator, real pool pod processes (config/510-pool.yaml run by the local node agent) and a real
// HTTP sink in this process:
//   1. N shared sources (default 10,000) created at once on 3 pool pods: time until all Ready,
//      operator RSS peak, pool pod RSS per source.
//   2. An interval change on one shared source, patch -> ConfigApplied True for the new generation
//      (watched), before the N exist (baseline), with them, and after they are deleted.
//   3. A pool pod's process SIGKILLed, once restarted in place by the node agent (as a kubelet
//      restarts a container) and once with its Pod deleted too (a node lost): time until each of
//      its sources heartbeats again (sink), from which pod, and until its status names another pod. A few "probe" sources (default 100, 1 s interval) are
//      among the N so that the sink can see a restart within about a second; the rest beat every
//      60 s, so that 10,000 of them do not flood the sink or the CPU.
//   4. Scale-out 3 -> 4: sources moved (status.poolPod, and at the sink), as a ratio of the ideal 1/4.
//
//   npm run bench:pool-cluster -- [--sources 10000] [--probes 100] [--samples 30] [--kills restart,gone]
//     [--no-sink-moves] [--no-after] [--operator-env K=V,K2=V2] [--ip-octets 71,72]
// Pod IPs in 127.71.0.0/16 (Services 127.72), away from the other benchmarks' 127.61 and the e2e suite's 127.42.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { heartbeatSource } from '../contract/cloudevents.js';
import { clientFromKubeConfig, type KubeClient } from '../operator/runtime/client.js';
import { kubectl } from '../test/support/cluster.js';
import { SYSTEM_NAMESPACE } from '../test/e2e/system.js';
import { HeartbeatSink } from './lib/heartbeat-sink.js';
import { ensureNamespace, startBenchSystem, type BenchSystem } from './lib/system.js';
import { conditionStatus, watchSources, type SourceObj } from './lib/watch.js';
import {
  fmt,
  mapLimit,
  printTable,
  rssOf,
  sleep,
  summarize,
  writeResult,
  type Summary,
} from './lib/report.js';
import { runBench } from './lib/run.js';
import {
  apiserverRequests,
  cpuSecondsOf,
  delta,
  eventCensus,
  operatorCounters,
} from './lib/request-counts.js';

const { values } = parseArgs({
  allowNegative: true,
  options: {
    sources: { type: 'string', default: '10000' },
    probes: { type: 'string', default: '100' },
    'probe-interval': { type: 'string', default: '1s' },
    interval: { type: 'string', default: '60s' },
    pods: { type: 'string', default: '3' },
    samples: { type: 'string', default: '30' },
    concurrency: { type: 'string', default: '50' },
    'ready-timeout': { type: 'string', default: '600' },
    'dead-peer-bound-ms': { type: 'string', default: '8000' },
    'sink-moves': { type: 'boolean', default: true },
    'burst-only': { type: 'boolean', default: false },
    after: { type: 'boolean', default: true },
    kills: { type: 'string', default: 'restart,gone' },
    'operator-env': { type: 'string', default: '' },
    /** Second octets of the pod and Service ranges (127.X/16): two runs at once need two pairs. */
    'ip-octets': { type: 'string', default: '71,72' },
  },
});
const SOURCES = Number(values.sources);
const PROBES = Math.min(Number(values.probes), SOURCES);
const PODS = Number(values.pods);
const SAMPLES = Number(values.samples);
const CONCURRENCY = Number(values.concurrency);
const READY_TIMEOUT_MS = Number(values['ready-timeout']) * 1000;
/** The operator's POOL_DEAD_PEER_BOUND_MS (config/500-operator.yaml leaves the default, 8 s). */
const BOUND_MS = Number(values['dead-peer-bound-ms']);
const IP_OCTETS = values['ip-octets'].split(',').map(Number) as [number, number];
const NS = 'bench-pool';
const LIVE_NS = 'bench-pool-live';
const LIVE = 'live';
const GROUP_PATH = '/apis/samples.knative.dev/v1alpha1';
const POOL_SELECTOR = 'app.kubernetes.io/name=samplesource-pool';
const INTERVALS = ['60s', '50s'];

const load = () => Number(loadavg()[0]!.toFixed(2));
const ms = (v: number) => `${fmt(v)} ms`;
const s = (v: number) => `${fmt(v / 1000)} s`;

/** What the watch last saw of a source. */
interface Tracked {
  generation: number;
  observed?: number;
  ready: boolean;
  poolPod?: string;
  /** performance.now() when first seen Ready for its generation. */
  readyAt?: number;
  /** performance.now() of the last change of status.poolPod. */
  poolPodAt?: number;
}

/** Follows every SampleSource of a namespace; `onChange` sees each update after it is recorded. */
function trackSources(sys: BenchSystem, ns: string) {
  const byName = new Map<string, Tracked>();
  let onChange: ((name: string, t: Tracked) => void) | undefined;
  const w = watchSources(sys.kc, ns, (type, obj: SourceObj) => {
    const name = obj.metadata.name;
    if (type === 'DELETED') {
      byName.delete(name);
      return;
    }
    const now = performance.now();
    const prev = byName.get(name);
    const poolPod = (obj.status as { poolPod?: string } | undefined)?.poolPod;
    const ready =
      obj.status?.observedGeneration === obj.metadata.generation && conditionStatus(obj, 'Ready') === 'True';
    const t: Tracked = {
      generation: obj.metadata.generation,
      ...(obj.status?.observedGeneration !== undefined ? { observed: obj.status.observedGeneration } : {}),
      ready,
      ...(poolPod !== undefined ? { poolPod } : {}),
      ...(prev?.readyAt !== undefined && prev.generation === obj.metadata.generation
        ? { readyAt: prev.readyAt }
        : ready
          ? { readyAt: now }
          : {}),
      ...(prev?.poolPod === poolPod && prev?.poolPodAt !== undefined
        ? { poolPodAt: prev.poolPodAt }
        : { poolPodAt: now }),
    };
    byName.set(name, t);
    onChange?.(name, t);
  });
  return {
    byName,
    ready: w.ready,
    set onChange(fn: ((name: string, t: Tracked) => void) | undefined) {
      onChange = fn;
    },
    stop: () => w.stop(),
  };
}

/** Ready, not terminating pool pods, by name. */
async function readyPoolPods(client: KubeClient): Promise<string[]> {
  const list = await client.request<{
    items: Array<{
      metadata: { name: string; deletionTimestamp?: string };
      status?: { conditions?: Array<{ type: string; status: string }> };
    }>;
  }>('GET', `/api/v1/namespaces/${SYSTEM_NAMESPACE}/pods`, { query: { labelSelector: POOL_SELECTOR } });
  return list.items
    .filter(
      (p) =>
        !p.metadata.deletionTimestamp &&
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    )
    .map((p) => p.metadata.name)
    .sort();
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Summed RSS of the given pool pods' processes, bytes. */
function poolRss(sys: BenchSystem, pods: string[]): number {
  let sum = 0;
  for (const p of pods) {
    const pid = sys.agent.podProcess(SYSTEM_NAMESPACE, p)?.pid;
    sum += (pid !== undefined ? rssOf(pid) : undefined) ?? 0;
  }
  return sum;
}

/**
 * Patches the live source's interval `samples` times (alternating two values, so every patch is a
 * new generation) and times each patch until a watch sees ConfigApplied True for that generation.
 */
async function measureIntervalChange(
  sys: BenchSystem,
  client: KubeClient,
  samples: number,
): Promise<{ appliedMs: number[]; failures: number; load: [number, number] }> {
  const seen = new Map<number, number>();
  const w = watchSources(sys.kc, LIVE_NS, (_type, obj: SourceObj) => {
    if (obj.metadata.name !== LIVE) return;
    const g = obj.metadata.generation;
    if (
      obj.status?.observedGeneration === g &&
      conditionStatus(obj, 'ConfigApplied') === 'True' &&
      !seen.has(g)
    )
      seen.set(g, performance.now());
  });
  await w.ready;
  const loadBefore = load();
  const out: number[] = [];
  let failures = 0;
  const path = `${GROUP_PATH}/namespaces/${LIVE_NS}/samplesources/${LIVE}`;
  let current = (await client.request<SourceObj>('GET', path)).spec.interval as string;
  for (let i = 0; i < samples; i++) {
    const interval = current === INTERVALS[0] ? INTERVALS[1]! : INTERVALS[0]!;
    current = interval;
    const t0 = performance.now();
    const patched = await client.request<SourceObj>('PATCH', path, {
      body: { spec: { interval } },
      contentType: 'application/merge-patch+json',
    });
    const g = patched.metadata.generation;
    while (!seen.has(g) && performance.now() - t0 < 30_000) await sleep(2);
    const at = seen.get(g);
    if (at === undefined) failures++;
    else out.push(at - t0);
    await sleep(250 + Math.random() * 250);
  }
  w.stop();
  return { appliedMs: out, failures, load: [loadBefore, load()] };
}

function latencyRow(
  label: string,
  r: { appliedMs: number[]; failures: number; load: [number, number] },
  base?: Summary,
) {
  const x = summarize(r.appliedMs);
  return [
    label,
    `${x.n} (${r.failures} failed)`,
    fmt(x.p50),
    fmt(x.p90),
    fmt(x.p99),
    fmt(x.max),
    base ? `${fmt(x.p50 / base.p50)}x / ${fmt(x.p99 / base.p99)}x` : '-',
    `${r.load[0]}-${r.load[1]}`,
  ];
}

/**
 * Waits until exactly `pods` pool pods are Ready, every source is Ready on one of them, every pod
 * serves some and none more than placement's cap (ceil(1.1 · mean)), and no placement changed for
 * `quietMs` since then (a pod that just turned Ready gets its sources only a moment later).
 */
async function waitConverged(
  client: KubeClient,
  tracked: Map<string, Tracked>,
  total: number,
  pods: number,
  quietMs: number,
  timeoutMs: number,
): Promise<{ atMs: number; pods: string[] }> {
  let readySince: { key: string; at: number } | undefined;
  let last = '';
  return waitFor(
    `${total} sources Ready and placed on ${pods} pods, quiet ${quietMs} ms`,
    timeoutMs,
    async () => {
      const ready = await readyPoolPods(client);
      if (ready.length !== pods) return undefined;
      const key = ready.join(',');
      if (readySince?.key !== key) readySince = { key, at: performance.now() };
      const counts = new Map(ready.map((p) => [p, 0]));
      let lastChange = readySince.at;
      let n = 0;
      for (const t of tracked.values()) {
        if (!t.ready || t.poolPod === undefined || !counts.has(t.poolPod)) {
          last = `a source not Ready on a ready pod (Ready ${t.ready}, poolPod ${t.poolPod ?? '-'}); pods ${key}`;
          return undefined;
        }
        counts.set(t.poolPod, counts.get(t.poolPod)! + 1);
        lastChange = Math.max(lastChange, t.poolPodAt ?? 0);
        n++;
      }
      const cap = Math.ceil((1.1 * total) / pods);
      const values = [...counts.values()];
      last = `${n} Ready on ready pods, per pod ${JSON.stringify(Object.fromEntries(counts))}, cap ${cap}`;
      if (n < total || Math.min(...values) === 0 || Math.max(...values) > cap) return undefined;
      if (performance.now() - lastChange < quietMs) return undefined;
      return { atMs: lastChange, pods: ready };
    },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last seen: ${last}`);
  });
}

/** How a pool pod is killed: its process SIGKILLed, then restarted in place by the node agent (as a kubelet does), or also its Pod deleted at once (a node lost: it never comes back, a replacement is a new pod). */
type KillMode = 'restart' | 'gone';
const KILL_MODES = (values.kills.split(',').filter(Boolean) as KillMode[]).map((m) => {
  if (m !== 'restart' && m !== 'gone') throw new Error(`--kills: unknown mode ${m as string}`);
  return m;
});

interface KillOutcome {
  mode: KillMode;
  victim: string;
  victimSources: number;
  probeVictims: number;
  probesAgain: Summary;
  allAgain: Summary;
  statusMoved: Summary;
  onSurvivors: number;
  onVictim: number;
  load: number[];
  rows: Array<Array<string | number>>;
}

/** Kills `victim` and times, per source it served, its first heartbeat after the kill (and from which pod) and its status naming another pod. */
async function killPoolPod(
  sys: BenchSystem,
  client: KubeClient,
  sink: HeartbeatSink,
  tracker: ReturnType<typeof trackSources>,
  probeNames: Set<string>,
  victim: string,
  mode: KillMode,
): Promise<KillOutcome> {
  const victimSources = [...tracker.byName.entries()].filter(([, t]) => t.poolPod === victim).map(([n]) => n);
  const bySourceName = new Map(victimSources.map((n) => [heartbeatSource(NS, n), n]));
  const beatAgain = new Map<string, { at: number; pod: string }>();
  const statusMoved = new Map<string, { at: number; pod: string }>();
  const pid = sys.agent.podProcess(SYSTEM_NAMESPACE, victim)?.pid;
  if (pid === undefined) throw new Error(`no process for pool pod ${victim}`);
  const killLoad = [load()];
  let killedAt = performance.now();
  sink.onBeat = (b) => {
    const name = bySourceName.get(b.source);
    if (!name || beatAgain.has(name) || b.at <= killedAt) return;
    // Requests the dead process had already written can still be parsed just after the kill.
    if (b.podName === victim && b.at - killedAt < 250) return;
    beatAgain.set(name, { at: b.at - killedAt, pod: b.podName });
  };
  tracker.onChange = (name, t) => {
    if (!bySourceName.has(heartbeatSource(NS, name)) || statusMoved.has(name)) return;
    if (t.ready && t.poolPod !== undefined && t.poolPod !== victim)
      statusMoved.set(name, { at: performance.now() - killedAt, pod: t.poolPod });
  };
  if (mode === 'gone') {
    // The Pod object first, at once (grace 0), so that the node agent does not restart the process.
    killedAt = performance.now();
    const deleting = client.request('DELETE', `/api/v1/namespaces/${SYSTEM_NAMESPACE}/pods/${victim}`, {
      body: { gracePeriodSeconds: 0 },
    });
    process.kill(pid, 'SIGKILL');
    await deleting;
    // The node agent may restart the process before its next poll sees the Pod gone (its restart
    // backoff is 0.5 s, a poll on a loaded machine can take longer): such a restart is killed at
    // once, long before it could listen, so the pod stays dead as a lost node's would.
    const until = performance.now() + 5_000;
    while (performance.now() < until) {
      const again = sys.agent.podProcess(SYSTEM_NAMESPACE, victim)?.pid;
      if (again === undefined) break;
      if (again !== pid) {
        process.kill(again, 'SIGKILL');
        console.log(`  the node agent restarted ${victim} before it saw the deletion: killed that too`);
      }
      await sleep(10);
    }
  } else {
    killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
  }
  console.log(
    `SIGKILLed pool pod ${victim} (pid ${pid}, ${mode}), which served ${victimSources.length} sources`,
  );
  const probeVictims = victimSources.filter((n) => probeNames.has(n));
  await waitFor('every source of the killed pod heartbeating again', BOUND_MS + 60_000, async () =>
    beatAgain.size >= victimSources.length ? true : undefined,
  ).catch((err: Error) => console.log(`${err.message}: ${beatAgain.size} of ${victimSources.length}`));
  killLoad.push(load());
  sink.onBeat = undefined;
  tracker.onChange = undefined;
  const again = (set: string[]) =>
    summarize(set.flatMap((n) => (beatAgain.has(n) ? [beatAgain.get(n)!.at] : [])));
  const probesAgain = again(probeVictims);
  const allAgain = again(victimSources);
  const moved = summarize([...statusMoved.values()].map((m) => m.at));
  const onSurvivors = [...beatAgain.values()].filter((b) => b.pod !== victim).length;
  const target = `< ${fmt(BOUND_MS + 1000)}`;
  const rows = [
    [
      `${mode}: probe sources (${values['probe-interval']}) heartbeating again`,
      `${probesAgain.n}/${probeVictims.length}`,
      fmt(probesAgain.p50),
      fmt(probesAgain.p99),
      fmt(probesAgain.max),
      target,
    ],
    [
      `${mode}: all its sources heartbeating again (${values.interval} ones: + their start phase, up to 30 s)`,
      `${allAgain.n}/${victimSources.length}`,
      fmt(allAgain.p50),
      fmt(allAgain.p99),
      fmt(allAgain.max),
      target,
    ],
    [
      `${mode}: status.poolPod names another pod, Ready`,
      `${moved.n}/${victimSources.length}`,
      fmt(moved.p50),
      fmt(moved.p99),
      fmt(moved.max),
      '-',
    ],
    [
      `${mode}: first heartbeat after the kill from another pod / the victim restarted`,
      `${onSurvivors} / ${beatAgain.size - onSurvivors}`,
      '',
      '',
      '',
      '',
    ],
  ];
  return {
    mode,
    victim,
    victimSources: victimSources.length,
    probeVictims: probeVictims.length,
    probesAgain,
    allAgain,
    statusMoved: moved,
    onSurvivors,
    onVictim: beatAgain.size - onSurvivors,
    load: killLoad,
    rows,
  };
}

/** Scale-out PODS -> PODS + 1 once the placement has settled: sources moved (status.poolPod, and at the sink). */
async function scaleOutPool(
  client: KubeClient,
  sink: HeartbeatSink,
  tracker: ReturnType<typeof trackSources>,
): Promise<{ data: Record<string, unknown>; print: () => void }> {
  const settled = await waitConverged(client, tracker.byName, SOURCES, PODS, 10_000, 300_000);
  const ownerBefore = new Map([...tracker.byName].map(([n, t]) => [n, t.poolPod!]));
  const sinkPodBefore = new Map([...sink.bySource].map(([src, b]) => [src, b.last.podName]));
  const scaleLoad = [load()];
  const tScale = performance.now();
  kubectl(['-n', SYSTEM_NAMESPACE, 'scale', 'deployment/samplesource-pool', `--replicas=${PODS + 1}`]);
  const after = await waitConverged(client, tracker.byName, SOURCES, PODS + 1, 10_000, 300_000);
  scaleLoad.push(load());
  const newPods = after.pods.filter((p) => !settled.pods.includes(p));
  let movedCount = 0;
  let movedToNew = 0;
  for (const [n, t] of tracker.byName) {
    if (t.poolPod === ownerBefore.get(n)) continue;
    movedCount++;
    if (newPods.includes(t.poolPod!)) movedToNew++;
  }
  const ideal = SOURCES / (PODS + 1);
  console.log(
    `scale-out ${PODS} -> ${PODS + 1}: ${movedCount} moved (${movedToNew} to the new pod), ideal ${fmt(ideal)}: ${fmt(movedCount / ideal, 3)}x; settled ${s(after.atMs - tScale)} after the scale`,
  );
  let sinkMoves: { seen: number; moved: number } | undefined;
  if (values['sink-moves']) {
    // At the sink: every source beats at least once in an interval (+ its start phase).
    const since = performance.now();
    await sleep(65_000);
    let seen = 0;
    let m = 0;
    for (const [src, b] of sink.bySource) {
      const podBefore = sinkPodBefore.get(src);
      if (podBefore === undefined || b.last.at < since || !src.startsWith(`/apis/v1/namespaces/${NS}/`))
        continue;
      seen++;
      if (b.last.podName !== podBefore) m++;
    }
    sinkMoves = { seen, moved: m };
    console.log(
      `at the sink: ${m} of ${seen} sources beating after the scale-out come from another pod than before`,
    );
  }
  const placedAfter = new Map<string, number>();
  for (const t of tracker.byName.values())
    placedAfter.set(t.poolPod!, (placedAfter.get(t.poolPod!) ?? 0) + 1);
  const data = {
    moved: movedCount,
    movedToNew,
    ideal,
    ratio: movedCount / ideal,
    settledMs: after.atMs - tScale,
    sinkMoves,
    placedAfter: Object.fromEntries(placedAfter),
    load: scaleLoad,
  };
  const print = () => {
    console.log(`\nscale-out ${PODS} -> ${PODS + 1} (load ${scaleLoad.join('-')}):`);
    printTable(
      ['measure', 'figure', 'target'],
      [
        ['moved (status.poolPod)', `${movedCount} (${movedToNew} to the new pod)`, '-'],
        ['moved / ideal 1/4', `${fmt(movedCount / ideal, 3)}x`, '<= 1.2x'],
        ['settled after the scale', s(after.atMs - tScale), '-'],
        ...(sinkMoves
          ? [['moved at the sink (of those beating after)', `${sinkMoves.moved} / ${sinkMoves.seen}`, '-']]
          : []),
        ['placement after', JSON.stringify(Object.fromEntries(placedAfter)), '<= 10 % + 1 above the mean'],
      ],
    );
  };
  return { data, print };
}

/** The operator's work-queue depth from its /metrics (pod IP, health port 8080), or undefined. */
async function queueDepth(sys: BenchSystem): Promise<number | undefined> {
  const ip = sys.agent.podProcess(SYSTEM_NAMESPACE, sys.operatorPod)?.ip;
  if (!ip) return undefined;
  try {
    const text = await (
      await fetch(`http://${ip}:8080/metrics`, { signal: AbortSignal.timeout(2_000) })
    ).text();
    const line = text.split('\n').find((l) => l.startsWith('workqueue_depth'));
    return line ? Number(line.split(' ').at(-1)) : undefined;
  } catch {
    return undefined;
  }
}

/** Per source: reconcile passes, API requests by verb and resource, Events; CPU seconds per process. */
function printBurstCost(
  cost: {
    windowMs: number;
    requests: Record<string, number>;
    operator: Record<string, number>;
    cpuSeconds: Record<string, number>;
  },
  n: number,
): void {
  const perSource = (v: number) => fmt(v / n, 2);
  const passes = Object.entries(cost.operator)
    .filter(([k]) => k.startsWith('reconciles '))
    .reduce((sum, [, v]) => sum + v, 0);
  console.log(`\nthe burst's cost (${s(cost.windowMs)} window, all clients), per source of ${n}:`);
  printTable(
    ['what', 'total', 'per source'],
    [
      ['operator reconcile passes', passes, perSource(passes)],
      ...Object.entries(cost.operator).map(([k, v]) => [`operator ${k}`, fmt(v), perSource(v)]),
      ...Object.entries(cost.requests)
        .filter(([k]) => !k.startsWith('WATCH'))
        .map(([k, v]) => [`apiserver ${k}`, v, perSource(v)]),
    ],
  );
  console.log(
    `CPU seconds in the window: ${Object.entries(cost.cpuSeconds)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
}

async function main(): Promise<void> {
  const operatorEnv = values['operator-env'] ? values['operator-env'].split(',') : [];
  const started = new Date().toISOString();
  const sys = await startBenchSystem({ adapterNamespaces: [], operatorEnv, ipRangeOctets: IP_OCTETS });
  const client = clientFromKubeConfig(sys.kc);
  const sink = new HeartbeatSink();
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
  const result: Record<string, unknown> = {
    sources: SOURCES,
    probes: PROBES,
    interval: values.interval,
    probeInterval: values['probe-interval'],
    pods: PODS,
    operatorEnv,
    started,
  };
  const rows: Array<Array<string | number>> = [];
  try {
    const url = await sink.start();
    await ensureNamespace(sys.kc, LIVE_NS);
    await ensureNamespace(sys.kc, NS);
    if (PODS !== 3)
      kubectl(['-n', SYSTEM_NAMESPACE, 'scale', 'deployment/samplesource-pool', `--replicas=${PODS}`]);
    const pods0 = await waitFor(`${PODS} Ready pool pods`, 180_000, async () => {
      const r = await readyPoolPods(client);
      return r.length === PODS ? r : undefined;
    });
    const create = (ns: string, name: string, interval: string) =>
      client.request('POST', `${GROUP_PATH}/namespaces/${ns}/samplesources`, {
        body: {
          apiVersion: 'samples.knative.dev/v1alpha1',
          kind: 'SampleSource',
          metadata: { name },
          spec: { mode: 'shared', interval, sink: { uri: url.href } },
        },
      });
    await create(LIVE_NS, LIVE, INTERVALS[0]!);
    const liveTracker = trackSources(sys, LIVE_NS);
    await waitFor('the live source Ready', 120_000, async () =>
      liveTracker.byName.get(LIVE)?.ready ? true : undefined,
    );
    liveTracker.stop();
    await measureIntervalChange(sys, client, 3); // warm-up: JIT and connections everywhere
    const before = await measureIntervalChange(sys, client, SAMPLES);
    const beforeSummary = summarize(before.appliedMs);
    console.log(
      `baseline (1 shared source): ConfigApplied p50 ${ms(beforeSummary.p50)}, p99 ${ms(beforeSummary.p99)}`,
    );
    const rssIdle = sys.operatorRss() ?? 0;
    const poolRssEmpty = poolRss(sys, pods0);

    // 1. The burst.
    const tracker = trackSources(sys, NS);
    await tracker.ready;
    const names = Array.from({ length: SOURCES }, (_, i) =>
      i < PROBES ? `p${String(i).padStart(4, '0')}` : `s${String(i).padStart(5, '0')}`,
    );
    const probeNames = new Set(names.slice(0, PROBES));
    const burstLoad = [load()];
    let burstRssPeak = 0;
    const burstSampler = setInterval(
      () => (burstRssPeak = Math.max(burstRssPeak, sys.operatorRss() ?? 0)),
      250,
    );
    // What the burst costs: API requests by verb (all clients), the operator's passes and Events, CPU per process.
    const operatorIp = () => sys.agent.podProcess(SYSTEM_NAMESPACE, sys.operatorPod)?.ip;
    const cpuNow = (): Record<string, number> => ({
      ...Object.fromEntries(sys.cp.processes.map((p) => [p.name, cpuSecondsOf(p.pid) ?? 0])),
      operator: cpuSecondsOf(sys.operatorPid()) ?? 0,
      pool: pods0.reduce(
        (sum, p) => sum + (cpuSecondsOf(sys.agent.podProcess(SYSTEM_NAMESPACE, p)?.pid) ?? 0),
        0,
      ),
    });
    const requestsBefore = await apiserverRequests(sys.cp);
    const countersBefore = await operatorCounters(operatorIp());
    const cpuBefore = cpuNow();
    const t0 = performance.now();
    let createErrors = 0;
    // Probes spread through the burst, not first: they are ordinary sources with a short interval.
    const order = [...names].sort((a, b) => (a.slice(1) < b.slice(1) ? -1 : 1));
    await mapLimit(order, CONCURRENCY, (name) =>
      create(NS, name, probeNames.has(name) ? values['probe-interval'] : values.interval).catch(
        () => void createErrors++,
      ),
    );
    const createdMs = performance.now() - t0;
    console.log(
      `${SOURCES - createErrors} shared SampleSources created in ${s(createdMs)} (${createErrors} errors)`,
    );
    const timeline: Array<{ atMs: number; ready: number; observed: number; rss: number }> = [];
    let allReadyMs: number | undefined;
    let lastPrint = 0;
    const depths: Array<{ atMs: number; depth: number | null }> = [];
    while (performance.now() - t0 < READY_TIMEOUT_MS) {
      let ready = 0;
      let observed = 0;
      for (const t of tracker.byName.values()) {
        if (t.ready) ready++;
        if (t.observed === t.generation) observed++;
      }
      const atMs = performance.now() - t0;
      timeline.push({ atMs, ready, observed, rss: sys.operatorRss() ?? 0 });
      if (atMs - lastPrint > 15_000) {
        lastPrint = atMs;
        const depth = await queueDepth(sys);
        depths.push({ atMs, depth: depth ?? null });
        console.log(
          `  ${s(atMs)}: ${ready} Ready, ${observed} observed, operator queue ${depth ?? '?'}, load ${load()}`,
        );
      }
      if (ready >= SOURCES - createErrors) {
        allReadyMs = Math.max(
          ...[...tracker.byName.values()].map((t) => (t.readyAt ?? performance.now()) - t0),
        );
        break;
      }
      await sleep(250);
    }
    burstLoad.push(load());
    clearInterval(burstSampler);
    const burstCost = {
      windowMs: performance.now() - t0,
      requests: delta(requestsBefore, await apiserverRequests(sys.cp)),
      operator: delta(countersBefore, await operatorCounters(operatorIp())),
      cpuSeconds: Object.fromEntries(
        Object.entries(cpuNow()).map(([k, v]) => [k, Math.round((v - (cpuBefore[k] ?? 0)) * 10) / 10]),
      ),
    };
    printBurstCost(burstCost, SOURCES);
    const eventsAtReady = await eventCensus(client, NS).catch(() => ({}));
    console.log(
      `Events in ${NS} when all were Ready (by reason, counts summed): ${JSON.stringify(eventsAtReady)}`,
    );
    const at = (frac: number) => timeline.find((p) => p.ready >= frac * SOURCES)?.atMs;
    console.log(
      allReadyMs !== undefined
        ? `all ${SOURCES} Ready ${s(allReadyMs)} after the first create (50 % at ${s(at(0.5) ?? NaN)}, 90 % at ${s(at(0.9) ?? NaN)})`
        : `NOT all Ready after ${s(READY_TIMEOUT_MS)}: ${JSON.stringify(timeline.at(-1))}`,
    );
    rows.push(
      ['create burst, client side', s(createdMs), '-', `${burstLoad[0]}`],
      [
        `first create -> all ${SOURCES} Ready`,
        allReadyMs !== undefined
          ? s(allReadyMs)
          : `> ${s(READY_TIMEOUT_MS)} (${timeline.at(-1)?.ready ?? 0} Ready)`,
        '< 60 s',
        `${burstLoad[0]}-${burstLoad[1]}`,
      ],
      ['  50 % / 90 % Ready', `${s(at(0.5) ?? NaN)} / ${s(at(0.9) ?? NaN)}`, '-', ''],
      [
        'operator RSS idle (1 source) / burst peak',
        `${fmt(rssIdle / 2 ** 20)} / ${fmt(burstRssPeak / 2 ** 20)} MiB`,
        '< 400 MB (381 MiB)',
        '',
      ],
    );
    result.burst = {
      depths,
      createdMs,
      createErrors,
      allReadyMs: allReadyMs ?? null,
      timeline,
      load: burstLoad,
      rssIdle,
      burstRssPeak,
      cost: burstCost,
    };
    // Kills and scale-out compare placements, which need every source placed: skipped otherwise.
    const full = allReadyMs !== undefined && !values['burst-only'];
    if (!full)
      console.log(
        allReadyMs === undefined
          ? 'not all Ready: the kills and the scale-out are skipped; memory and the interval change are measured with the N present as they are'
          : '--burst-only: the kills and the scale-out are skipped',
      );

    // Pool pod memory: read once every first tick (random phase, at most 30 s) has gone out.
    await sleep(35_000);
    // Events are written off the reconcile path: what arrived by now.
    const eventsLater = await eventCensus(client, NS).catch(() => ({}));
    console.log(`Events in ${NS} 35 s later: ${JSON.stringify(eventsLater)}`);
    result.events = { atReady: eventsAtReady, later: eventsLater };
    const placed = new Map<string, number>();
    for (const t of tracker.byName.values())
      if (t.poolPod) placed.set(t.poolPod, (placed.get(t.poolPod) ?? 0) + 1);
    const pods1 = await readyPoolPods(client);
    const poolRssFull = poolRss(sys, pods1);
    const perSource = (poolRssFull - poolRssEmpty) / SOURCES;
    const perPod = pods1.map(
      (p) => `${p}: ${placed.get(p) ?? 0} sources, ${fmt((poolRss(sys, [p]) ?? 0) / 2 ** 20)} MiB`,
    );
    console.log(`pool pods: ${perPod.join('; ')}`);
    console.log(
      `sink: ${sink.total} heartbeats from ${sink.bySource.size} sources so far (${sink.invalid} invalid)`,
    );
    rows.push([
      'pool pod RSS per source ((all - empty) / N, no forced GC)',
      `${fmt(perSource)} B (empty ${fmt(poolRssEmpty / 2 ** 20)} MiB, with N ${fmt(poolRssFull / 2 ** 20)} MiB over ${pods1.length} pods)`,
      '< 4 KB',
      `${load()}`,
    ]);
    result.poolMemory = { poolRssEmpty, poolRssFull, perSource, placed: Object.fromEntries(placed) };

    // 2. The interval change with the N present.
    const withN = await measureIntervalChange(sys, client, SAMPLES);
    const withSummary = summarize(withN.appliedMs);
    console.log(`with ${SOURCES}: ConfigApplied p50 ${ms(withSummary.p50)}, p99 ${ms(withSummary.p99)}`);
    result.intervalChange = { before, withN };

    // 3. A pool pod killed, once restarted in place (kubelet) and once gone for good (node lost).
    const kills: KillOutcome[] = [];
    for (const mode of full ? KILL_MODES : []) {
      const current = await waitConverged(client, tracker.byName, SOURCES, PODS, 10_000, 300_000);
      kills.push(await killPoolPod(sys, client, sink, tracker, probeNames, current.pods[0]!, mode));
    }
    result.kills = kills.map(({ rows: _rows, ...k }) => k);

    // 4. Scale-out PODS -> PODS + 1, once the placement has settled after the kills.
    const scale = full ? await scaleOutPool(client, sink, tracker) : undefined;
    if (scale) result.scaleOut = scale.data;
    let nonIncreasing = 0;
    for (const b of sink.bySource.values()) nonIncreasing += b.nonIncreasing;
    // Where a sequence failed to increase: the same pod (a redelivery or reorder of its own sends) or
    // two pods (a handoff that did not continue the sequence).
    const samePod = sink.anomalies.filter((a) => a.previous.podName === a.beat.podName).length;
    result.sink = {
      total: sink.total,
      sources: sink.bySource.size,
      invalid: sink.invalid,
      nonIncreasing,
      anomaliesSamePod: samePod,
      anomaliesAcrossPods: sink.anomalies.length - samePod,
      anomalies: sink.anomalies.map((a) => ({
        source: a.beat.source,
        previous: { pod: a.previous.podName, sequence: a.previous.sequence, atMs: a.previous.at - tStart },
        beat: { pod: a.beat.podName, sequence: a.beat.sequence, atMs: a.beat.at - tStart },
      })),
    };

    // 2b. The interval change again after the N are deleted: the baseline once more, after the fact.
    let afterDelete: Awaited<ReturnType<typeof measureIntervalChange>> | undefined;
    if (values.after) {
      await client.request('DELETE', `${GROUP_PATH}/namespaces/${NS}/samplesources`);
      await waitFor('the N deleted', 120_000, async () => (tracker.byName.size === 0 ? true : undefined));
      await sleep(10_000);
      afterDelete = await measureIntervalChange(sys, client, SAMPLES);
      result.intervalChange = { before, withN, afterDelete };
    }
    tracker.stop();

    console.log(
      `\npool cluster benchmark: ${SOURCES} shared sources (${PROBES} at ${values['probe-interval']}, the rest at ${values.interval}) on ${PODS} pool pods; operator env: ${operatorEnv.join(' ') || 'config/ defaults'}`,
    );
    printTable(['measure', 'figure', 'target', 'load (1 min)'], rows);
    console.log('\ninterval change on one shared source, patch -> ConfigApplied True (new generation), ms:');
    printTable(
      ['when', 'n', 'p50', 'p90', 'p99', 'max', 'p50 / p99 vs before', 'load'],
      [
        latencyRow('before the N (baseline)', before),
        latencyRow(`with the ${SOURCES}`, withN, beforeSummary),
        ...(afterDelete ? [latencyRow('after deleting them', afterDelete, beforeSummary)] : []),
      ],
    );
    if (kills.length) console.log(`\npool pod SIGKILLed, ms after the kill (dead-peer bound ${BOUND_MS}):`);
    for (const k of kills)
      console.log(`  ${k.mode}: ${k.victim}, ${k.victimSources} sources, load ${k.load.join('-')}`);
    if (kills.length)
      printTable(
        ['measure', 'n', 'p50', 'p99', 'max', 'target'],
        kills.flatMap((k) => k.rows),
      );
    scale?.print();
    console.log(
      `\nsink: ${sink.total} heartbeats, ${nonIncreasing} with a sequence not above the previous one of its source (of the first ${sink.anomalies.length}: ${samePod} after one from the same pod, ${sink.anomalies.length - samePod} after one from another pod)`,
    );
    console.log(`operator RSS peak over the whole run: ${fmt(maxRss / 2 ** 20)} MiB`);
    result.operatorRss = { peak: maxRss, idle: rssIdle, samples: rssSamples };
    result.finished = new Date().toISOString();
  } finally {
    clearInterval(sampler);
    const file = writeResult('pool-cluster', result);
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
    await sink.close();
    await sys.stop();
  }
}

runBench(main);
