// Fault drill, soak: many sessions through FaultInjector proxies (control/fault-injector.ts, TCP
// proxies on 127.0.0.1 in the adapter host process) that cut a random stream every few seconds.
// Every session sends one async command per second carrying (client, seq); the adapter host checks
// that each handler runs exactly once and in order per client, and the steering side that every
// command is acked and every async result arrives once. Memory after warm-up is tracked on both sides.
//
//   npm run build && node --expose-gc dist/bench/soak.js [--duration 10m] [--sessions 1000] [--servers 100]
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ControlClient } from '../control/index.js';
import { OPERATOR_IDENTITY, adapterIdentity } from '../contract/identities.js';
import { startHost } from './lib/host-client.js';
import { BENCH_NAMESPACE, OP_SOAK, adapterName } from './lib/adapter-host.js';
import { fmt, settledMemory, sleep, writeResult } from './lib/report.js';
import { runBench } from './lib/run.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10m' },
    sessions: { type: 'string', default: '1000' },
    servers: { type: 'string', default: '1000' },
    'cut-every': { type: 'string', default: '2000:5000' },
    warmup: { type: 'string', default: '60s' },
    // Second octet of the adapters' loopback addresses: pick another when someone else runs a drill on the
    // same machine (grpc-js binds with SO_REUSEPORT, so two hosts on one address would share its connections).
    octet: { type: 'string', default: '80' },
  },
});

function seconds(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text);
  if (!m) throw new Error(`bad duration ${text}: use 180, 180s, 3m`);
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600 }[m[2] ?? 's'] ?? 1);
}
const DURATION_S = Math.min(seconds(values.duration), 3 * 3600);
const WARMUP_S = Math.min(seconds(values.warmup), DURATION_S / 2);
const SESSIONS = Number(values.sessions);
const SERVERS = Math.min(Number(values.servers), SESSIONS);
const [CUT_MIN, CUT_MAX] = values['cut-every'].split(':').map(Number) as [number, number];
const OCTET = Number(values.octet);
const silent = pino({ level: 'silent' });

interface Client {
  name: string;
  client: ControlClient;
  sent: number;
  acked: number;
  /** Seqs whose result arrived (preallocated, so the drill's own bookkeeping does not grow). */
  results: Uint8Array;
  resultCount: number;
  duplicateResults: number;
  sendErrors: number;
}

async function main(): Promise<void> {
  const host = await startHost({
    count: SERVERS,
    octet: OCTET,
    port: 9443,
    faults: true,
    soak: true,
    maxSessions: 4096,
  });
  const ports = host.ready.proxyPorts;
  const clients: Client[] = Array.from({ length: SESSIONS }, (_, i) => {
    const server = i % SERVERS;
    const c: Client = {
      name: `c${i}`,
      client: new ControlClient({
        target: `127.0.0.1:${ports[server]!}`,
        tls: host.operatorTls,
        identity: OPERATOR_IDENTITY,
        expectedServerIdentity: adapterIdentity(BENCH_NAMESPACE, adapterName(server)),
        logger: silent,
        // Quick reconnects: the drill is about loss and duplication, not about waiting.
        backoff: { initialMs: 50, maxMs: 1_000 },
      }),
      sent: 0,
      acked: 0,
      results: new Uint8Array(1 << 14),
      resultCount: 0,
      duplicateResults: 0,
      sendErrors: 0,
    };
    c.client.onResult((r) => {
      const seq = (r.detail as { seq?: number } | undefined)?.seq ?? -1;
      if (seq < 0 || seq >= c.results.length) return;
      if (c.results[seq]) c.duplicateResults++;
      else c.resultCount++;
      c.results[seq] = 1;
    });
    return c;
  });
  for (const [i, c] of clients.entries()) {
    c.client.start();
    if (i % 50 === 49) await sleep(200);
  }
  while (clients.some((c) => c.client.state !== 'ready')) await sleep(100);
  console.log(
    `soak: ${SESSIONS} sessions over ${SERVERS} adapters behind fault proxies; ${DURATION_S} s, cut every ${CUT_MIN}-${CUT_MAX} ms`,
  );
  host.tell('chaos', { everyMs: [CUT_MIN, CUT_MAX] });

  const t0 = performance.now();
  const memory: Array<{
    atS: number;
    heapUsed: number;
    rss: number;
    hostRss: number;
    hostHeap: number;
    /** Commands sent and not yet acked at that moment (a backlog grows the heap without any leak). */
    unacked: number;
  }> = [];
  let nextMemory = 0;
  // One command per session per second, spread over the second in 100 slots of 10 ms.
  let tick = 0;
  while (performance.now() - t0 < DURATION_S * 1000) {
    const slot = tick % 100;
    for (let i = slot; i < clients.length; i += 100) {
      const c = clients[i]!;
      const seq = c.sent++;
      c.client
        .sendAndWaitForAck(OP_SOAK, { client: c.name, seq }, { id: `${c.name}-${seq}`, timeoutMs: 0 })
        .then(
          () => void c.acked++,
          () => void c.sendErrors++,
        );
    }
    tick++;
    const due = t0 + tick * 10;
    const now = performance.now();
    if (now - t0 >= nextMemory * 1000) {
      const m = await settledMemory();
      const h = await host.ask<{ memory: NodeJS.MemoryUsage }>('memory');
      memory.push({
        atS: (now - t0) / 1000,
        heapUsed: m.heapUsed,
        rss: m.rss,
        hostRss: h.memory.rss,
        hostHeap: h.memory.heapUsed,
        unacked: clients.reduce((a, c) => a + c.sent - c.acked, 0),
      });
      nextMemory += 10;
    }
    await sleep(Math.max(0, due - performance.now()));
  }
  host.tell('chaos', { everyMs: [0, 0] });
  const sentTotal = clients.reduce((a, c) => a + c.sent, 0);
  // Drain: every command acked and every result in, or 120 s.
  const drainStart = performance.now();
  while (performance.now() - drainStart < 120_000) {
    if (clients.every((c) => c.acked + c.sendErrors === c.sent && c.resultCount === c.sent)) break;
    await sleep(200);
  }
  const stats = await host.ask<{
    handled: number;
    clients: number;
    violations: { duplicates: number; order: number };
    perClient: Record<string, number>;
    cuts: number;
    cutEvents: number;
  }>('soak-stats');
  const acked = clients.reduce((a, c) => a + c.acked, 0);
  const results = clients.reduce((a, c) => a + c.resultCount, 0);
  const duplicateResults = clients.reduce((a, c) => a + c.duplicateResults, 0);
  const sendErrors = clients.reduce((a, c) => a + c.sendErrors, 0);
  const lastSeqMismatch = clients.filter((c) => stats.perClient[c.name] !== c.sent - 1).length;
  const lost = sentTotal - stats.handled + stats.violations.duplicates;
  const warm = memory.find((m) => m.atS >= WARMUP_S) ?? memory[0]!;
  const end = memory.at(-1)!;
  const growth = (a: number, b: number) => ((b - a) / a) * 100;
  const g = {
    steeringHeap: growth(warm.heapUsed, end.heapUsed),
    steeringRss: growth(warm.rss, end.rss),
    hostHeap: growth(warm.hostHeap, end.hostHeap),
    hostRss: growth(warm.hostRss, end.hostRss),
  };
  // Single samples swing with the work in flight at that instant; the smallest sample of the first and of the last
  // minute after warm-up (what stays retained) is the steadier comparison.
  const windowMin = (from: number, to: number, k: 'heapUsed' | 'rss' | 'hostHeap' | 'hostRss') =>
    Math.min(...memory.filter((m) => m.atS >= from && m.atS < to).map((m) => m[k]));
  const firstTo = Math.min(WARMUP_S + 60, DURATION_S);
  const lastFrom = Math.max(DURATION_S - 60, WARMUP_S);
  const windowed = Object.fromEntries(
    (['heapUsed', 'rss', 'hostHeap', 'hostRss'] as const).map((k) => [
      k,
      growth(windowMin(WARMUP_S, firstTo, k), windowMin(lastFrom, DURATION_S + 1, k)),
    ]),
  );
  console.log(
    `soak: ${SESSIONS} sessions, ${DURATION_S} s, ${sentTotal} commands, ${stats.cuts} streams cut in ${stats.cutEvents} cuts (${fmt(sentTotal / DURATION_S / SESSIONS, 2)} commands/session/s achieved): ` +
      `lost ${lost}, handlers run twice ${stats.violations.duplicates}, order violations ${stats.violations.order}, ` +
      `unacked ${sentTotal - acked}, results missing ${sentTotal - results}, duplicate results ${duplicateResults}, send errors ${sendErrors}, ` +
      `clients whose last handled seq != last sent ${lastSeqMismatch}; memory after ${WARMUP_S} s warm-up: steering heap ${fmt(g.steeringHeap)} % RSS ${fmt(g.steeringRss)} %, ` +
      `adapter host heap ${fmt(g.hostHeap)} % RSS ${fmt(g.hostRss)} %`,
  );
  console.log(
    `memory growth, smallest sample of the last minute vs of the first minute after warm-up: steering heap ${fmt(windowed.heapUsed!)} % RSS ${fmt(windowed.rss!)} %, ` +
      `adapter host heap ${fmt(windowed.hostHeap!)} % RSS ${fmt(windowed.hostRss!)} %; unacked commands at the samples: ` +
      memory.map((m) => m.unacked).join(' '),
  );
  const file = writeResult('soak', {
    sessions: SESSIONS,
    servers: SERVERS,
    durationS: DURATION_S,
    warmupS: WARMUP_S,
    cutEveryMs: [CUT_MIN, CUT_MAX],
    commands: sentTotal,
    handled: stats.handled,
    cuts: stats.cuts,
    cutEvents: stats.cutEvents,
    achievedPerSessionPerS: sentTotal / DURATION_S / SESSIONS,
    lost,
    handlersRunTwice: stats.violations.duplicates,
    orderViolations: stats.violations.order,
    unacked: sentTotal - acked,
    resultsMissing: sentTotal - results,
    duplicateResults,
    sendErrors,
    lastSeqMismatch,
    memory,
    growthPercent: g,
    windowedGrowthPercent: windowed,
    targets: { lost: 0, handlersRunTwice: 0, orderViolations: 0, memoryGrowthPercent: 5 },
  });
  console.log(`results: ${file}`);
  await Promise.all(clients.map((c) => c.client.close()));
  await host.stop();
}

runBench(main);
