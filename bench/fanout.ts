// Target 3, fan-out: one steering process (this one) holds a real ControlClient per adapter; the
// adapters live in a child process, each a real ControlServer on its own 127.77.x.y:9443 with its
// own certificate, running the adapter's real ApplyState handler (ControlServer.handleAsync).
// A round pushes ApplyState to every session and ends when every async result is back.
// Memory per session: this process's heap and RSS after GC, before vs after opening the sessions.
// Baseline, same run: one session alone, ApplyState until its result (sequential round trips).
//
//   npm run build && node --expose-gc dist/bench/fanout.js [--sessions 1000] [--rounds 10]
import { parseArgs } from 'node:util';
import * as v8 from 'node:v8';
import { pino } from 'pino';
import { ControlClient, type CommandResult, type TlsPems } from '../control/index.js';
import { OP_APPLY_STATE } from '../contract/commands.js';
import { OPERATOR_IDENTITY, adapterIdentity } from '../contract/identities.js';
import { startHost } from './lib/host-client.js';
import { BENCH_NAMESPACE, adapterName, hostAddress } from './lib/adapter-host.js';
import {
  canGc,
  fmt,
  mapLimit,
  printTable,
  settledMemory,
  sleep,
  summarize,
  writeResult,
} from './lib/report.js';
import { runBench } from './lib/run.js';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '10' },
    octet: { type: 'string', default: '77' },
  },
});
const SESSIONS = Number(values.sessions);
const ROUNDS = Number(values.rounds);
const OCTET = Number(values.octet);
const PORT = 9443;
const silent = pino({ level: 'silent' });
let failedResults = 0;

interface Steered {
  client: ControlClient;
  waiting: Map<string, () => void>;
}

function steer(i: number, tls: TlsPems): Steered {
  const waiting = new Map<string, () => void>();
  const client = new ControlClient({
    target: `${hostAddress(OCTET, i)}:${PORT}`,
    tls,
    identity: OPERATOR_IDENTITY,
    expectedServerIdentity: adapterIdentity(BENCH_NAMESPACE, adapterName(i)),
    logger: silent,
  });
  client.onResult((r: CommandResult) => {
    const done = waiting.get(r.commandId);
    if (!done) return;
    waiting.delete(r.commandId);
    if (!r.succeeded) failedResults++;
    done();
  });
  return { client, waiting };
}

/** Physical size of V8's young generation (see the per-session memory below). */
function newSpaceBytes(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.physical_space_size ?? 0;
}

/** Sends ApplyState to one session; resolves when its async result arrives. */
function applyState(
  s: Steered,
  generation: number,
  id: string,
): { acked: Promise<unknown>; result: Promise<void> } {
  const result = new Promise<void>((resolve) => s.waiting.set(id, resolve));
  const acked = s.client.sendAndWaitForAck(
    OP_APPLY_STATE,
    { generation, interval: generation % 2 ? '1s' : '2s', paused: false },
    { id, timeoutMs: 60_000 },
  );
  return { acked, result };
}

async function waitReady(clients: Steered[], timeoutMs: number): Promise<number> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const ready = clients.filter((c) => c.client.state === 'ready').length;
    if (ready === clients.length || performance.now() > until) return ready;
    await sleep(50);
  }
}

async function main(): Promise<void> {
  if (!canGc()) console.warn('run with --expose-gc for memory figures after GC');
  const host = await startHost({ count: SESSIONS, octet: OCTET, port: PORT });
  console.log(
    `adapter host: ${SESSIONS} ControlServers on 127.${OCTET}.x.y:${PORT} in ${fmt(host.ready.startupMs / 1000)} s`,
  );
  const tls = host.operatorTls;
  try {
    // Baseline: one session, sequential ApplyState -> result.
    const solo = steer(0, tls);
    solo.client.start();
    await waitReady([solo], 20_000);
    const soloMs: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t = performance.now();
      const { acked, result } = applyState(solo, 1000 + i, `solo-${i}`);
      await Promise.all([acked, result]);
      if (i >= 50) soloMs.push(performance.now() - t);
    }
    await solo.client.close();
    const baseline = summarize(soloMs);
    console.log(
      `baseline, one session: ApplyState -> result p50 ${fmt(baseline.p50, 2)} ms, p99 ${fmt(baseline.p99, 2)} ms`,
    );

    const before = await settledMemory();
    const newSpaceBefore = newSpaceBytes();
    const clients = Array.from({ length: SESSIONS }, (_, i) => steer(i, tls));
    const tOpen = performance.now();
    // Open in waves so 1,000 TLS handshakes do not all hit the 10 s hello timeout on 2 cores.
    await mapLimit(clients, 100, async (c) => {
      c.client.start();
      const until = performance.now() + 30_000;
      while (c.client.state !== 'ready' && performance.now() < until) await sleep(10);
    });
    const ready = await waitReady(clients, 60_000);
    const openMs = performance.now() - tOpen;
    console.log(`${ready}/${SESSIONS} sessions ready in ${fmt(openMs / 1000)} s`);
    await sleep(2_000);
    const after = await settledMemory();
    const perSession = {
      heapBytes: (after.heapUsed - before.heapUsed) / SESSIONS,
      rssBytes: (after.rss - before.rss) / SESSIONS,
      externalBytes: (after.external - before.external) / SESSIONS,
      // V8's young generation grows with the burst's allocation rate and keeps its pages after GC: a fixed cost, not a per-session one.
      newSpaceBytes: (newSpaceBytes() - newSpaceBefore) / SESSIONS,
    };
    console.log(
      `steering side per session: heap ${fmt(perSession.heapBytes / 1024)} KB, RSS ${fmt(perSession.rssBytes / 1024)} KB (of which V8 new space ${fmt(perSession.newSpaceBytes / 1024)} KB; external ${fmt(perSession.externalBytes / 1024)} KB)`,
    );

    const rounds: Array<{
      allAckedMs: number;
      allResultsMs: number;
      perSessionP50: number;
      perSessionP99: number;
    }> = [];
    for (let r = 0; r < ROUNDS + 1; r++) {
      // Above the baseline's generations (1000..1299 on adapter 0), or adapter 0 would answer Superseded.
      const generation = 2000 + r;
      const t0 = performance.now();
      const each: number[] = new Array<number>(clients.length);
      let lastAck = 0;
      const all = clients.map((c, i) => {
        const { acked, result } = applyState(c, generation, `r${r}-s${i}`);
        return Promise.all([
          acked.then(() => (lastAck = Math.max(lastAck, performance.now()))),
          result.then(() => (each[i] = performance.now() - t0)),
        ]);
      });
      await Promise.all(all);
      const total = performance.now() - t0;
      const s = summarize(each);
      if (r === 0) {
        console.log(`warm-up round: ${fmt(total)} ms`);
        continue;
      }
      rounds.push({
        allAckedMs: lastAck - t0,
        allResultsMs: total,
        perSessionP50: s.p50,
        perSessionP99: s.p99,
      });
      await sleep(500);
    }
    const roundTimes = summarize(rounds.map((r) => r.allResultsMs));
    const ackTimes = summarize(rounds.map((r) => r.allAckedMs));
    const memEnd = await settledMemory();
    const hostMem = await host.ask<{ memory: NodeJS.MemoryUsage }>('memory');
    console.log(`\nfailed async results: ${failedResults}`);
    console.log(`\nfan-out: ${SESSIONS} sessions, ${ROUNDS} rounds (+1 warm-up), ms:`);
    printTable(
      ['measure', 'p50', 'p99', 'max', 'target', 'vs baseline'],
      [
        [
          'baseline: 1 session ApplyState -> result',
          fmt(baseline.p50, 2),
          fmt(baseline.p99, 2),
          fmt(baseline.max, 2),
          '-',
          '-',
        ],
        [
          'round: push to all -> all acks back',
          fmt(ackTimes.p50),
          fmt(ackTimes.p99),
          fmt(ackTimes.max),
          '-',
          `${fmt(ackTimes.p50 / baseline.p50)}x`,
        ],
        [
          'round: push to all -> all results back',
          fmt(roundTimes.p50),
          fmt(roundTimes.p99),
          fmt(roundTimes.max),
          'p50 < 1000',
          `${fmt(roundTimes.p50 / baseline.p50)}x`,
        ],
        [
          '  same, per session (amortised)',
          fmt(roundTimes.p50 / SESSIONS, 3),
          '-',
          '-',
          '-',
          `${fmt(roundTimes.p50 / SESSIONS / baseline.p50, 2)}x`,
        ],
      ],
    );
    printTable(
      ['memory per session (steering side)', 'KB', 'target'],
      [
        ['heap used (after GC)', fmt(perSession.heapBytes / 1024), '< 100'],
        ['RSS', fmt(perSession.rssBytes / 1024), '< 64'],
        ['RSS less V8 new-space growth', fmt((perSession.rssBytes - perSession.newSpaceBytes) / 1024), '-'],
      ],
    );
    const file = writeResult('fanout', {
      sessions: SESSIONS,
      ready,
      openMs,
      baseline,
      rounds,
      summary: { allResults: roundTimes, allAcks: ackTimes },
      failedResults,
      memory: { before, after, end: memEnd, perSession, adapterHostRssBytes: hostMem.memory.rss },
      targets: { roundP50Ms: 1000, perSessionRssKB: 64, perSessionHeapKB: 100 },
    });
    console.log(`\nresults: ${file}`);
    await Promise.all(clients.map((c) => c.client.close()));
  } finally {
    await host.stop();
  }
}

runBench(main);
