// Child process of the fan-out, soak and bad-input benchmarks: hosts many adapters in one process,
// each a real ControlServer on its own loopback address (127.<octet>.a.b:<port>) with its own
// certificate from control/pki.ts, running the adapter's real command handlers. Driven over IPC.
import { pino } from 'pino';
import { z } from 'zod';
import { ControlServer, loadCertificateAuthority } from '../../control/index.js';
import { FaultInjector } from '../../control/fault-injector.js';
import { registerCommands } from '../../adapter/commands.js';
import { StateStore } from '../../adapter/state.js';
import { NOTIFICATION_ADAPTER_STATE } from '../../contract/commands.js';
import { OPERATOR_IDENTITY, adapterIdentity } from '../../contract/identities.js';

/** What the parent sends first. */
export interface HostConfig {
  count: number;
  octet: number;
  port: number;
  caCertPem: string;
  caKeyPem: string;
  /** Put a FaultInjector (TCP proxy on 127.0.0.1) in front of each server. */
  faults?: boolean;
  /** Register the soak's sequence-checking command. */
  soak?: boolean;
  maxSessions?: number;
  /** Count the servers' warning and error log lines by message (the bad-input drill's refusal reasons). */
  countLogs?: boolean;
  /** The servers' hello timeout (fanout-memory keeps raw streams open without a hello). Default the server's. */
  helloTimeoutMs?: number;
}

import { BENCH_NAMESPACE, adapterName, hostAddress } from './addresses.js';

export { BENCH_NAMESPACE, adapterName, hostAddress } from './addresses.js';

/** Opcode the soak uses: payload {client, seq}; the host checks exactly-once and order per client. */
export const OP_SOAK = 'bench.v1.Soak';

const silent = pino({ level: 'silent' });
const send = (m: unknown): void => void process.send?.(m);

/** Log lines at warn and above, by message, with one example of their details. */
const logCounts = new Map<string, { count: number; example: string }>();
const counting = pino(
  { level: 'warn' },
  {
    write: (line: string) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      const key = String(o.msg);
      const rec = logCounts.get(key);
      if (rec) rec.count++;
      else {
        const { level: _l, time: _t, pid: _p, hostname: _h, msg: _m, ...rest } = o;
        logCounts.set(key, { count: 1, example: JSON.stringify(rest).slice(0, 400) });
      }
    },
  },
);

async function main(config: HostConfig): Promise<void> {
  const t0 = performance.now();
  const logger = config.countLogs ? counting : silent;
  const ca = await loadCertificateAuthority({ certPem: config.caCertPem, keyPem: config.caKeyPem });
  const servers: ControlServer[] = [];
  const proxies: FaultInjector[] = [];
  // Soak bookkeeping: per client, last seq handled, how many handled, and seqs seen (bitmap).
  const soak = new Map<string, { last: number; handled: number; seen: Uint8Array }>();
  const violations = { duplicates: 0, order: 0 };
  let chaosTimer: NodeJS.Timeout | undefined;
  let streamsCut = 0;
  let cutEvents = 0;
  for (let i = 0; i < config.count; i++) {
    const ip = hostAddress(config.octet, i);
    const identity = adapterIdentity(BENCH_NAMESPACE, adapterName(i));
    const leaf = await ca.issue({
      commonName: `${adapterName(i)}.${BENCH_NAMESPACE}`,
      uris: [identity],
      usages: ['server'],
    });
    const server = new ControlServer({
      address: `${ip}:${config.port}`,
      tls: { caPem: ca.certPem, certPem: leaf.certPem, keyPem: leaf.keyPem },
      identity,
      allowedClientIdentities: [OPERATOR_IDENTITY],
      logger,
      ...(config.maxSessions ? { maxSessions: config.maxSessions } : {}),
      ...(config.helloTimeoutMs ? { helloTimeoutMs: config.helloTimeoutMs } : {}),
    });
    const store = new StateStore(`${adapterName(i)}-pod`, { intervalMs: 10_000, paused: false });
    registerCommands(server, store, () => undefined, silent);
    server.onSessionOpen((s) => s.notify(NOTIFICATION_ADAPTER_STATE, store.snapshot()));
    if (config.soak) {
      server.handleAsync(
        OP_SOAK,
        z.object({ client: z.string(), seq: z.number().int().min(0) }),
        (p, ctx) => {
          let rec = soak.get(p.client);
          if (!rec) soak.set(p.client, (rec = { last: -1, handled: 0, seen: new Uint8Array(1 << 14) }));
          if (p.seq < rec.seen.length && rec.seen[p.seq]) violations.duplicates++;
          else if (p.seq <= rec.last) violations.order++;
          if (p.seq < rec.seen.length) rec.seen[p.seq] = 1;
          rec.last = Math.max(rec.last, p.seq);
          rec.handled++;
          ctx.notifySuccess({ seq: p.seq });
        },
      );
    }
    await server.start();
    servers.push(server);
    if (config.faults) {
      const proxy = new FaultInjector(config.port, ip);
      await proxy.start();
      proxies.push(proxy);
    }
  }
  send({
    type: 'ready',
    startupMs: performance.now() - t0,
    proxyPorts: proxies.map((p) => p.port),
    memory: process.memoryUsage(),
  });
  process.on('message', (m: { type: string; [k: string]: unknown }) => {
    switch (m.type) {
      case 'memory': {
        (globalThis as { gc?: () => void }).gc?.();
        send({ type: 'memory', memory: process.memoryUsage() });
        break;
      }
      case 'chaos': {
        // Every [min, max] ms, cut the live streams of one random proxy (one adapter's sessions).
        const [min, max] = m.everyMs as [number, number];
        clearTimeout(chaosTimer);
        const next = (): void => {
          chaosTimer = setTimeout(
            () => {
              const p = proxies[Math.floor(Math.random() * proxies.length)];
              if (p) {
                const before = p.cuts;
                p.cutAll();
                streamsCut += p.cuts - before;
                cutEvents++;
              }
              next();
            },
            min + Math.random() * (max - min),
          );
        };
        if (min > 0) next();
        break;
      }
      case 'log-counts': {
        send({ type: 'log-counts', counts: Object.fromEntries(logCounts) });
        break;
      }
      case 'soak-stats': {
        let handled = 0;
        const perClient: Record<string, number> = {};
        for (const [client, rec] of soak) {
          handled += rec.handled;
          perClient[client] = rec.last;
        }
        send({
          type: 'soak-stats',
          handled,
          clients: soak.size,
          violations,
          perClient,
          cuts: streamsCut,
          cutEvents,
          memory: process.memoryUsage(),
        });
        break;
      }
      case 'stop': {
        void Promise.all([...proxies.map((p) => p.close()), ...servers.map((s) => s.close(100))]).then(() =>
          process.exit(0),
        );
        break;
      }
    }
  });
}

// The parent is gone (crashed or killed): do not linger with open ports.
process.once('disconnect', () => process.exit(0));
process.once('message', (config: HostConfig) => {
  main(config).catch((err: unknown) => {
    send({ type: 'error', message: err instanceof Error ? err.stack : String(err) });
    process.exit(1);
  });
});
