// Target 7, recovery: a real ControlClient steers a real ControlServer (adapter handlers, fresh
// state on every start, as a restarted adapter has) on a fixed loopback address. The server is
// closed, stays down for a random time, and listens again on the same address; we time from that
// listen to (a) the stream being ready again and (b) the resync: the adapter's full-state
// notification received and the desired state (ApplyState) re-sent and its async result back.
// Runs the library's default backoff (1 s cap), the old 10 s cap, and the default plus a dial as soon as
// the server listens again (what the operator does on the pod's Ready event), interleaved restart by
// restart. Baseline, same run: each restart starts a brand-new client to the listening server, timed to the same resync.
//
//   npm run build && node dist/bench/recovery.js [--restarts 30] [--down 200:3000] [--configs 0,1,2]
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import {
  ControlClient,
  ControlServer,
  createCertificateAuthority,
  type BackoffOptions,
  type TlsPems,
} from '../control/index.js';
import { AdapterStateSchema, NOTIFICATION_ADAPTER_STATE, OP_APPLY_STATE } from '../contract/commands.js';
import { OPERATOR_IDENTITY, adapterIdentity } from '../contract/identities.js';
import { registerCommands } from '../adapter/commands.js';
import { StateStore } from '../adapter/state.js';
import { fmt, printTable, sleep, summarize, writeResult } from './lib/report.js';
import { runBench } from './lib/run.js';

const { values } = parseArgs({
  options: {
    restarts: { type: 'string', default: '30' },
    down: { type: 'string', default: '200:3000' },
    address: { type: 'string', default: '127.78.0.2:9443' },
    // Which configurations, by index into the list in main (0 default backoff, 1 old 10 s cap, 2 dial on Ready).
    configs: { type: 'string', default: '0,1,2' },
  },
});
const RESTARTS = Number(values.restarts);
const [DOWN_MIN, DOWN_MAX] = values.down.split(':').map(Number) as [number, number];
const ADDRESS = values.address;
const IDENTITY = adapterIdentity('bench', 'recovery');
const GENERATION = 7;
const silent = pino({ level: 'silent' });

interface Pki {
  server: TlsPems;
  client: TlsPems;
}

async function startServer(pki: Pki): Promise<ControlServer> {
  const server = new ControlServer({
    address: ADDRESS,
    tls: pki.server,
    identity: IDENTITY,
    allowedClientIdentities: [OPERATOR_IDENTITY],
    logger: silent,
  });
  const store = new StateStore('recovery-pod', { intervalMs: 10_000, paused: false });
  registerCommands(server, store, () => undefined, silent);
  server.onSessionOpen((s) => s.notify(NOTIFICATION_ADAPTER_STATE, store.snapshot()));
  await server.start();
  return server;
}

/** A client that behaves like operator/samplesource/sessions.ts: re-sends the desired state when the adapter reports an older one. */
function steeringClient(pki: Pki, backoff: BackoffOptions | undefined) {
  const marks = { ready: 0, state: 0, resynced: 0 };
  let pending: string | undefined;
  let n = 0;
  const client = new ControlClient({
    target: ADDRESS,
    tls: pki.client,
    identity: OPERATOR_IDENTITY,
    expectedServerIdentity: IDENTITY,
    logger: silent,
    ...(backoff ? { backoff } : {}),
  });
  client.onStateChange((s) => {
    if (s === 'ready' && !marks.ready) marks.ready = performance.now();
  });
  client.onNotification((note) => {
    if (note.type !== NOTIFICATION_ADAPTER_STATE) return;
    const state = AdapterStateSchema.parse(note.data);
    if (!marks.state) marks.state = performance.now();
    if (state.generation >= GENERATION) {
      // Already in sync (a reconnect to an adapter that kept its state): nothing to resend.
      if (!marks.resynced) marks.resynced = performance.now();
    } else if (!pending) {
      pending = `resync-${n++}`;
      void client
        .sendAndWaitForAck(
          OP_APPLY_STATE,
          { generation: GENERATION, interval: '1s', paused: false },
          { id: pending, timeoutMs: 0 },
        )
        .catch(() => undefined);
    }
  });
  client.onResult((r) => {
    if (r.commandId === pending && r.succeeded) {
      pending = undefined;
      if (!marks.resynced) marks.resynced = performance.now();
    }
  });
  return {
    client,
    marks,
    reset: () => {
      marks.ready = marks.state = marks.resynced = 0;
      pending = undefined;
    },
  };
}

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > end) return false;
    await sleep(2);
  }
  return true;
}

interface Run {
  label: string;
  capMs: number;
  downMs: number[];
  toReady: number[];
  toResync: number[];
  failures: number;
}

interface Config {
  label: string;
  backoff: BackoffOptions | undefined;
  dialOnReady: boolean;
}

/**
 * One restart with a fresh steering client: start it against the listening server (a baseline sample: fresh client ->
 * resynced), then close the server, keep it down, listen again and time listen -> ready and listen -> resynced.
 */
async function oneRestart(pki: Pki, config: Config, run: Run, baselineMs: number[]): Promise<void> {
  let server = await startServer(pki);
  const steering = steeringClient(pki, config.backoff);
  const t = performance.now();
  steering.client.start();
  if (await until(() => steering.marks.resynced > 0, 20_000)) baselineMs.push(steering.marks.resynced - t);
  await server.close(0);
  steering.reset();
  const down = DOWN_MIN + Math.random() * (DOWN_MAX - DOWN_MIN);
  await sleep(down);
  server = await startServer(pki);
  const listening = performance.now();
  // What operator/samplesource/sessions.ts does when the pod's Ready event arrives: dial now.
  if (config.dialOnReady) steering.client.reconnectNow();
  const ok = await until(() => steering.marks.resynced > 0, 30_000);
  if (!ok) run.failures++;
  else {
    run.downMs.push(down);
    run.toReady.push(steering.marks.ready - listening);
    run.toResync.push(steering.marks.resynced - listening);
  }
  await steering.client.close();
  await server.close(0);
}

async function main(): Promise<void> {
  const ca = await createCertificateAuthority({ commonName: 'bench-recovery-ca' });
  const s = await ca.issue({ commonName: 'adapter', uris: [IDENTITY], usages: ['server'] });
  const c = await ca.issue({ commonName: 'operator', uris: [OPERATOR_IDENTITY], usages: ['client'] });
  const pki: Pki = {
    server: { caPem: ca.certPem, certPem: s.certPem, keyPem: s.keyPem },
    client: { caPem: ca.certPem, certPem: c.certPem, keyPem: c.keyPem },
  };
  const configs: Config[] = [
    {
      label: 'library default backoff (100 ms x2, cap 1 s, 20% jitter)',
      backoff: undefined,
      dialOnReady: false,
    },
    { label: 'old default (cap 10 s)', backoff: { maxMs: 10_000 }, dialOnReady: false },
    {
      label: 'default + dial on Ready (reconnectNow, as the operator)',
      backoff: undefined,
      dialOnReady: true,
    },
  ];
  const picked = values.configs.split(',').map(Number);
  configs.splice(0, configs.length, ...configs.filter((_, i) => picked.includes(i)));
  const runs: Run[] = configs.map((cfg) => ({
    label: cfg.label,
    capMs: cfg.backoff?.maxMs ?? 1_000,
    downMs: [],
    toReady: [],
    toResync: [],
    failures: 0,
  }));
  const baselineMs: number[] = [];
  // Interleaved: restart i runs configuration i mod 3, each with its own baseline sample, so load changes hit all alike.
  console.log(`${RESTARTS} restarts per configuration, down ${DOWN_MIN}-${DOWN_MAX} ms, interleaved ...`);
  for (let i = 0; i < RESTARTS * configs.length; i++) {
    const k = i % configs.length;
    await oneRestart(pki, configs[k]!, runs[k]!, baselineMs);
    await sleep(100);
  }
  const base = summarize(baselineMs);
  const rows = runs.flatMap((r) => {
    const ready = summarize(r.toReady);
    const resync = summarize(r.toResync);
    return [
      [
        `${r.label}: listen -> ready`,
        ready.n,
        fmt(ready.p50),
        fmt(ready.p99),
        fmt(ready.max),
        '-',
        `${fmt(ready.p50 / base.p50)}x / ${fmt(ready.p99 / base.p99)}x`,
      ],
      [
        `${r.label}: listen -> resynced`,
        resync.n,
        fmt(resync.p50),
        fmt(resync.p99),
        fmt(resync.max),
        '< 200',
        `${fmt(resync.p50 / base.p50)}x / ${fmt(resync.p99 / base.p99)}x`,
      ],
    ];
  });
  console.log(`\nrecovery after an adapter restart, ms (server down ${DOWN_MIN}-${DOWN_MAX} ms, uniform):`);
  printTable(
    ['measure', 'n', 'p50', 'p99', 'max', 'target', 'p50 / p99 vs baseline'],
    [
      ['baseline: fresh client -> resynced', base.n, fmt(base.p50), fmt(base.p99), fmt(base.max), '-', '-'],
      ...rows,
    ],
  );
  const failures = runs.map((r) => r.failures).reduce((a, b) => a + b, 0);
  if (failures > 0) console.log(`restarts not recovered within 30 s: ${failures}`);
  const file = writeResult('recovery', {
    restarts: RESTARTS,
    downMs: [DOWN_MIN, DOWN_MAX],
    baseline: base,
    runs: runs.map((r) => ({
      ...r,
      summary: { ready: summarize(r.toReady), resynced: summarize(r.toResync) },
    })),
    targets: { resyncAfterReadyMs: 200 },
  });
  console.log(`\nresults: ${file}`);
}

runBench(main);
