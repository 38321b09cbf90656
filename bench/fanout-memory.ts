// Diagnostic for target 3: what one steering-side connection costs, from the floor up. One adapter
// host (the fan-out's real ControlServers); each measurement is a fresh child process that opens N
// connections of one kind, waits until all are up, and reports heap and RSS per connection after GC
// (before vs after, with one connection opened and closed first so lazy set-up is not counted).
// Kinds, all over the same mTLS to the same servers, all sharing one secure context:
//   tls      bare node:tls connection (ALPN h2), no HTTP/2
//   h2       bare node:http2 session on it plus one open gRPC stream: the floor of one TLS + HTTP/2 connection in Node
//   grpc     raw grpc-js channel + one bidi stream, one shared ChannelCredentials
//   grpc-own raw grpc-js channel + one bidi stream, credentials built per channel (what ControlClient did before)
//   grpc-hello the protocol's grpc-js client (ControlGrpcClient) writing a hello and reading the answer, no Session
//   control  a real ControlClient with its defaults (session up: hello both ways)
// Repeats alternate the kinds (rotating their order) and the table shows medians; `control / h2` is the same-run ratio.
//
//   npm run build && node --expose-gc dist/bench/fanout-memory.js [--sessions 1000] [--repeat 5] [--modes h2,grpc,control]
// FANOUT_GRPC_OPTIONS / FANOUT_CONTROL_OPTIONS (JSON) add channel or client options for experiments;
// FANOUT_SNAPSHOT=<prefix> writes a heap snapshot of each probe once its connections are up.
import { fork } from 'node:child_process';
import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import * as v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { ControlClient, type TlsPems } from '../control/index.js';
import { CAPABILITIES, CONNECT_PATH, ControlGrpcClient } from '../control/wire.js';
import { helloFrame } from '../control/handshake.js';
import { resolveLimits } from '../control/limits.js';
import { OPERATOR_IDENTITY, adapterIdentity } from '../contract/identities.js';
import { startHost } from './lib/host-client.js';
import { BENCH_NAMESPACE, adapterName, hostAddress } from './lib/addresses.js';
import { fmt, mapLimit, median, printTable, settledMemory, sleep, writeResult } from './lib/report.js';
import { runBench } from './lib/run.js';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000' },
    repeat: { type: 'string', default: '5' },
    modes: { type: 'string', default: 'tls,h2,grpc,grpc-own,control' },
    octet: { type: 'string', default: '81' },
    probe: { type: 'string' },
  },
});
const N = Number(values.sessions);
const OCTET = Number(values.octet);
const PORT = 9443;
const SNI = 'samplesource-control';
const MODES = ['tls', 'h2', 'grpc', 'grpc-own', 'grpc-hello', 'control'] as const;
type Mode = (typeof MODES)[number];

interface ProbeResult {
  mode: Mode;
  ready: number;
  openMs: number;
  heapKB: number;
  rssKB: number;
  externalKB: number;
  newSpaceKB: number;
}

/** One open connection of some kind: `up()` once it is usable, `close()` to end it. */
interface Conn {
  up(): boolean;
  close(): void;
}

function opener(mode: Mode, t: TlsPems): (i: number) => Conn {
  const ca = String(t.caPem);
  const context = tls.createSecureContext({ ca, cert: t.certPem, key: t.keyPem });
  const shared = grpc.credentials.createSsl(Buffer.from(ca), Buffer.from(t.keyPem), Buffer.from(t.certPem), {
    checkServerIdentity: () => undefined,
  });
  const grpcOptions = {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.enable_retries': 0,
    'grpc.ssl_target_name_override': SNI,
    // Experiments: extra channel options for the raw grpc-js kinds, e.g. '{"grpc.enable_channelz":0}'.
    ...(JSON.parse(process.env.FANOUT_GRPC_OPTIONS ?? '{}') as Record<string, number>),
  };
  const tlsConnect = (i: number) =>
    tls.connect({
      host: hostAddress(OCTET, i),
      port: PORT,
      secureContext: context,
      ALPNProtocols: ['h2'],
      servername: SNI,
      checkServerIdentity: () => undefined,
    });
  switch (mode) {
    case 'tls':
      return (i) => {
        let ok = false;
        const socket = tlsConnect(i).once('secureConnect', () => (ok = true));
        socket.on('error', () => undefined);
        return { up: () => ok, close: () => socket.destroy() };
      };
    case 'h2':
      return (i) => {
        let ok = false;
        const session = http2.connect(`https://${hostAddress(OCTET, i)}:${PORT}`, {
          createConnection: () => tlsConnect(i),
        });
        session.on('error', () => undefined);
        session.once('remoteSettings', () => (ok = true));
        const stream = session.request({
          ':method': 'POST',
          ':path': CONNECT_PATH,
          'content-type': 'application/grpc',
          te: 'trailers',
        });
        stream.on('error', () => undefined);
        stream.on('data', () => undefined);
        return { up: () => ok, close: () => session.destroy() };
      };
    case 'grpc':
    case 'grpc-own':
      return (i) => {
        const creds =
          mode === 'grpc'
            ? shared
            : grpc.credentials.createSsl(Buffer.from(ca), Buffer.from(t.keyPem), Buffer.from(t.certPem), {
                checkServerIdentity: () => undefined,
              });
        const client = new grpc.Client(`${hostAddress(OCTET, i)}:${PORT}`, creds, grpcOptions);
        const call = client.makeBidiStreamRequest<Buffer, Buffer>(
          CONNECT_PATH,
          (b) => b,
          (b) => b,
        );
        call.on('data', () => undefined);
        call.on('error', () => undefined);
        const channel = client.getChannel();
        return {
          up: () => channel.getConnectivityState(false) === grpc.connectivityState.READY,
          close: () => (call.cancel(), client.close()),
        };
      };
    case 'grpc-hello':
      // The control protocol's own grpc-js client and hello, without the Session machinery.
      return (i) => {
        const client = new ControlGrpcClient(`${hostAddress(OCTET, i)}:${PORT}`, shared, grpcOptions);
        const call = client.Connect();
        let ok = false;
        call.on('data', () => (ok = true));
        call.on('error', () => undefined);
        call.write({
          frames: [
            helloFrame({
              capabilities: [...CAPABILITIES],
              requiredCapabilities: [],
              identity: OPERATOR_IDENTITY,
              sessionId: `probe-${i}`,
              resumed: false,
              limits: resolveLimits(),
            }),
          ],
        });
        return { up: () => ok, close: () => (call.cancel(), client.close()) };
      };
    case 'control': {
      const logger = pino({ level: 'silent' });
      return (i) => {
        const client = new ControlClient({
          target: `${hostAddress(OCTET, i)}:${PORT}`,
          tls: t,
          identity: OPERATOR_IDENTITY,
          expectedServerIdentity: adapterIdentity(BENCH_NAMESPACE, adapterName(i)),
          logger,
          // Experiments: extra ControlClient options, e.g. '{"keepalive":{"timeMs":3600000}}'.
          ...(JSON.parse(process.env.FANOUT_CONTROL_OPTIONS ?? '{}') as object),
        }).start();
        return { up: () => client.state === 'ready', close: () => void client.close() };
      };
    }
  }
}

/** Child: opens N connections of one kind and reports what they cost. */
async function probe(mode: Mode, t: TlsPems): Promise<ProbeResult> {
  const open = opener(mode, t);
  // One connection opened and closed first: module-level set-up (grpc-js resolvers, channelz, pino) is not per connection.
  const warm = open(0);
  for (let k = 0; k < 500 && !warm.up(); k++) await sleep(10);
  warm.close();
  await sleep(500);
  const before = await settledMemory();
  const newSpaceBefore = newSpaceBytes();
  const t0 = performance.now();
  const conns = new Array<Conn>(N);
  // Waves of 100 at a time, as the fan-out opens its sessions, so the handshakes do not all time out.
  await mapLimit(
    Array.from({ length: N }, (_, i) => i),
    100,
    async (i) => {
      const c = (conns[i] = open(i));
      const until = performance.now() + 30_000;
      while (!c.up() && performance.now() < until) await sleep(10);
    },
  );
  const openMs = performance.now() - t0;
  await sleep(1_000);
  const after = await settledMemory();
  if (process.env.FANOUT_SNAPSHOT)
    v8.writeHeapSnapshot(`${process.env.FANOUT_SNAPSHOT}-${mode}.heapsnapshot`);
  const ready = conns.filter((c) => c.up()).length;
  return {
    mode,
    ready,
    openMs,
    heapKB: (after.heapUsed - before.heapUsed) / N / 1024,
    rssKB: (after.rss - before.rss) / N / 1024,
    externalKB: (after.external - before.external) / N / 1024,
    newSpaceKB: (newSpaceBytes() - newSpaceBefore) / N / 1024,
  };
}

/**
 * Physical size of V8's young generation. It grows with the allocation rate of the burst (to tens of MB) and does not
 * shrink after GC; divided by N it looks like a per-connection cost but is a fixed one.
 */
function newSpaceBytes(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.physical_space_size ?? 0;
}

function runProbe(mode: Mode, t: TlsPems): Promise<ProbeResult> {
  const child = fork(
    fileURLToPath(import.meta.url),
    ['--probe', mode, '--sessions', String(N), '--octet', String(OCTET)],
    {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  return new Promise((resolve, reject) => {
    child.once('message', (m: ProbeResult) => resolve(m));
    child.once('exit', (code) => reject(new Error(`probe ${mode} exited with ${code} before reporting`)));
    child.send(t);
  });
}

async function main(): Promise<void> {
  const modes = values.modes.split(',') as Mode[];
  for (const m of modes)
    if (!MODES.includes(m)) throw new Error(`unknown mode ${m}; one of ${MODES.join(', ')}`);
  const repeat = Number(values.repeat);
  // Raw streams send no hello: a long hello timeout keeps them open while they are measured.
  const host = await startHost({ count: N, octet: OCTET, port: PORT, helloTimeoutMs: 600_000 });
  const results: ProbeResult[] = [];
  try {
    for (let r = 0; r < repeat; r++) {
      // Rotate the order so that no kind always runs first (or after the same neighbour).
      const order = modes.map((_, k) => modes[(k + r) % modes.length]!);
      for (const mode of order) {
        const res = await runProbe(mode, host.operatorTls);
        results.push(res);
        console.log(
          `run ${r + 1} ${mode.padEnd(8)} ${res.ready}/${N} up in ${fmt(res.openMs / 1000)} s: heap ${fmt(res.heapKB)} KB, RSS ${fmt(res.rssKB)} KB (of which V8 new space ${fmt(res.newSpaceKB)} KB), external ${fmt(res.externalKB)} KB per connection`,
        );
      }
    }
  } finally {
    await host.stop();
  }
  const of = (mode: Mode) => results.filter((x) => x.mode === mode);
  const floor = modes.includes('h2') ? median(of('h2').map((x) => x.rssKB)) : Number.NaN;
  console.log(`\nper connection, ${N} connections, medians of ${repeat} alternating runs (after GC):`);
  printTable(
    ['kind', 'heap KB', 'RSS KB', 'RSS min-max', 'RSS less new space KB', 'RSS vs h2 floor'],
    modes.map((m) => {
      const rss = of(m).map((x) => x.rssKB);
      return [
        m,
        fmt(median(of(m).map((x) => x.heapKB))),
        fmt(median(rss)),
        `${fmt(Math.min(...rss))}-${fmt(Math.max(...rss))}`,
        fmt(median(of(m).map((x) => x.rssKB - x.newSpaceKB))),
        `${fmt(median(rss) / floor, 2)}x`,
      ];
    }),
  );
  // Ratios within each run (control and grpc against the h2 floor of the same repetition).
  if (modes.includes('h2') && modes.includes('control')) {
    const ratios = Array.from({ length: repeat }, (_, r) => {
      const run = results.slice(r * modes.length, (r + 1) * modes.length);
      const h2 = run.find((x) => x.mode === 'h2')!;
      const control = run.find((x) => x.mode === 'control')!;
      return control.rssKB / h2.rssKB;
    });
    console.log(
      `control / h2 RSS per run: ${ratios.map((x) => `${fmt(x, 2)}x`).join(', ')}; median ${fmt(median(ratios), 2)}x`,
    );
  }
  console.log(`results: ${writeResult('fanout-memory', { sessions: N, repeat, results })}`);
}

if (values.probe) {
  const mode = values.probe as Mode;
  process.once('message', (t: TlsPems) => {
    probe(mode, t).then(
      (res) => {
        process.send?.(res, () => process.exit(0));
      },
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
} else runBench(main);
