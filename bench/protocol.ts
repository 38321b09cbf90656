// Control protocol benchmark: sendAndWaitForAck round trip (one in flight) and throughput (many in
// flight) over mTLS on loopback, each beside a raw grpc-js bidirectional echo measured in the same
// run with the same TLS. Server and client run in separate processes. Prints figures; not a test.
//
//   node --experimental-transform-types --no-warnings --import ./adapter/ts-hooks.mjs bench/protocol.ts
//   … bench/protocol.ts --latency 5000 --seconds 3 --inflight 256 --rounds 6
//   BENCH_PEER_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" … profiles the server process.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { ControlClient, createCertificateAuthority } from '../control/index.js';
import { RAW_ECHO_SERVICE } from './protocol-shared.js';
import type { BenchPki } from './protocol-shared.js';

const { values } = parseArgs({
  options: {
    latency: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '3' },
    inflight: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '6' },
    // Whole measurements, each interleaving all sides; medians and per-run ratios are printed.
    repeat: { type: 'string', default: '5' },
    // For profiling one side alone, e.g. --sides protocol (ratios are printed only with all three).
    sides: { type: 'string', default: 'raw,coalescing,protocol' },
  },
});
const REPEAT = Number(values.repeat);
const LATENCY_N = Number(values.latency);
const SECONDS = Number(values.seconds);
const IN_FLIGHT = Number(values.inflight);
const ROUNDS = Number(values.rounds);
const SERVER_ID = 'spiffe://samplesource.bench/adapter';
const CLIENT_ID = 'spiffe://samplesource.bench/operator';
// 64 bytes on the wire in both cases: raw bytes, and the JSON payload of a command.
const RAW_PAYLOAD = Buffer.alloc(64, 0x61);
const COMMAND_PAYLOAD = { d: 'a'.repeat(56) };

interface Side {
  name: string;
  roundTrip(): Promise<void>;
  /** Keeps `inFlight` outstanding for `ms`; resolves to how many completed. */
  pipelined(inFlight: number, ms: number): Promise<number>;
  close(): Promise<void>;
}

interface Figures {
  p50: number;
  p99: number;
  perSecond: number;
  /** CPU time of both processes (client + server, user + system) per round trip and per command in flight, us. */
  cpuPerRoundTrip: number;
  cpuPerCommand: number;
}

/** CPU time so far of this process and of the server process, us: robust to other load, unlike wall time. */
let cpuNow: () => Promise<number> = () => Promise.resolve(0);

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * Both sides are measured in interleaved slices (latency in blocks of 250 round trips, throughput in windows of
 * SECONDS/ROUNDS), so that load from other processes on a shared machine hits both alike.
 */
async function measureInterleaved(sides: Side[]): Promise<Figures[]> {
  for (const side of sides) for (let i = 0; i < 1000; i++) await side.roundTrip(); // JIT and TLS warm-up
  for (const side of sides) await side.pipelined(IN_FLIGHT, 300);
  const samples: number[][] = sides.map(() => []);
  const cpuLatency = sides.map(() => 0);
  const cpuThroughput = sides.map(() => 0);
  const BLOCK = 250;
  for (let block = 0; block < Math.ceil(LATENCY_N / BLOCK); block++) {
    for (let k = 0; k < sides.length; k++) {
      const i = block % 2 === 0 ? k : sides.length - 1 - k;
      const cpu0 = await cpuNow();
      for (let n = 0; n < BLOCK; n++) {
        const t0 = performance.now();
        await sides[i]!.roundTrip();
        samples[i]!.push((performance.now() - t0) * 1000);
      }
      cpuLatency[i]! += (await cpuNow()) - cpu0;
    }
  }
  const counts = sides.map(() => 0);
  const windowMs = (SECONDS * 1000) / ROUNDS;
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < sides.length; k++) {
      const i = round % 2 === 0 ? k : sides.length - 1 - k;
      const cpu0 = await cpuNow();
      counts[i]! += await sides[i]!.pipelined(IN_FLIGHT, windowMs);
      cpuThroughput[i]! += (await cpuNow()) - cpu0;
    }
  }
  return sides.map((_, i) => {
    const sorted = samples[i]!.sort((a, b) => a - b);
    return {
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      perSecond: counts[i]! / SECONDS,
      cpuPerRoundTrip: cpuLatency[i]! / Math.max(1, sorted.length),
      cpuPerCommand: cpuThroughput[i]! / Math.max(1, counts[i]!),
    };
  });
}

/** A raw gRPC bidi call to the echo service: the baseline sides' transport. */
function openRawEcho(port: number, creds: grpc.ChannelCredentials) {
  const client = new grpc.Client(`127.0.0.1:${port}`, creds);
  const def = RAW_ECHO_SERVICE['Echo']!;
  const call = client.makeBidiStreamRequest<Buffer, Buffer>(
    def.path,
    def.requestSerialize,
    def.responseDeserialize,
  );
  return { client, call };
}

function rawEcho(port: number, creds: grpc.ChannelCredentials): Side {
  const { client, call } = openRawEcho(port, creds);
  let onEcho: () => void = () => {};
  call.on('data', () => onEcho());
  call.on('error', () => {}); // the peer going away at the end
  return {
    name: 'raw grpc-js echo',
    roundTrip: () =>
      new Promise<void>((resolve) => {
        onEcho = resolve;
        call.write(RAW_PAYLOAD);
      }),
    pipelined: (inFlight, ms) =>
      new Promise<number>((resolve) => {
        let done = 0;
        let outstanding = 0;
        const until = performance.now() + ms;
        onEcho = () => {
          done++;
          outstanding--;
          if (performance.now() < until) {
            outstanding++;
            call.write(RAW_PAYLOAD);
          } else if (outstanding === 0) resolve(done);
        };
        for (let i = 0; i < inFlight; i++) {
          outstanding++;
          call.write(RAW_PAYLOAD);
        }
      }),
    close: async () => {
      call.end();
      client.close();
    },
  };
}

/**
 * Raw echo that batches like the protocol: payloads written in one event-loop turn go out as one gRPC message
 * (64-byte records back to back), the server echoes each message whole, and each record counts as one reply.
 * The fair throughput baseline for a protocol that batches frames into envelopes.
 */
function coalescingEcho(port: number, creds: grpc.ChannelCredentials): Side {
  const { client, call } = openRawEcho(port, creds);
  let onEcho: (records: number) => void = () => {};
  call.on('data', (m: Buffer) => onEcho(m.length / RAW_PAYLOAD.length));
  call.on('error', () => {});
  let pending = 0;
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending === 0) return;
    call.write(Buffer.concat(Array.from({ length: pending }, () => RAW_PAYLOAD)));
    pending = 0;
  };
  // Same policy as control/link.ts: the records of one turn (a macrotask and its promise continuations) go out
  // together at its end (process.nextTick).
  const send = (): void => {
    pending++;
    if (!scheduled) {
      scheduled = true;
      process.nextTick(flush);
    }
  };
  return {
    name: 'coalescing raw echo',
    roundTrip: () =>
      new Promise<void>((resolve) => {
        onEcho = () => resolve();
        send();
      }),
    pipelined: (inFlight, ms) =>
      new Promise<number>((resolve) => {
        let done = 0;
        let outstanding = 0;
        const until = performance.now() + ms;
        onEcho = (records) => {
          for (let r = 0; r < records; r++) {
            done++;
            outstanding--;
            if (performance.now() < until) {
              outstanding++;
              send();
            }
          }
          if (outstanding === 0) resolve(done);
        };
        for (let i = 0; i < inFlight; i++) {
          outstanding++;
          send();
        }
      }),
    close: async () => {
      call.end();
      client.close();
    },
  };
}

function protocol(port: number, pki: BenchPki, clientCert: { certPem: string; keyPem: string }): Side {
  const client = new ControlClient({
    target: `127.0.0.1:${port}`,
    tls: { caPem: pki.ca, ...clientCert },
    identity: CLIENT_ID,
    expectedServerIdentity: SERVER_ID,
    limits: { maxInFlight: 4096, maxOutbox: 4096 },
  }).start();
  return {
    name: 'control protocol',
    roundTrip: async () => void (await client.sendAndWaitForAck('echo', COMMAND_PAYLOAD)),
    pipelined: async (inFlight, ms) => {
      const until = performance.now() + ms;
      let done = 0;
      const lane = async () => {
        while (performance.now() < until) {
          await client.sendAndWaitForAck('echo', COMMAND_PAYLOAD);
          done++;
        }
      };
      await Promise.all(Array.from({ length: inFlight }, lane));
      return done;
    },
    close: () => client.close(),
  };
}

async function main(): Promise<void> {
  const ca = await createCertificateAuthority({ commonName: 'bench-ca' });
  const server = await ca.issue({ commonName: 'adapter', uris: [SERVER_ID] });
  const clientCert = await ca.issue({ commonName: 'operator', uris: [CLIENT_ID] });
  const pki: BenchPki = {
    ca: ca.certPem,
    serverCert: server.certPem,
    serverKey: server.keyPem,
    serverId: SERVER_ID,
    clientId: CLIENT_ID,
  };

  const peer = fork(fileURLToPath(new URL('./protocol-peer.ts', import.meta.url)), [], {
    execArgv: [...process.execArgv, ...(process.env['BENCH_PEER_ARGS']?.split(' ') ?? [])],
    stdio: 'inherit',
  });
  const ports = await new Promise<{ controlPort: number; echoPort: number }>((resolve) => {
    peer.once('message', (m) => resolve(m as { controlPort: number; echoPort: number }));
    peer.send(pki);
  });
  cpuNow = () =>
    new Promise<number>((resolve) => {
      peer.once('message', (m) => {
        const own = process.cpuUsage();
        const theirs = m as NodeJS.CpuUsage;
        resolve(own.user + own.system + theirs.user + theirs.system);
      });
      peer.send('cpu');
    });
  const rawCreds = grpc.credentials.createSsl(
    Buffer.from(ca.certPem),
    Buffer.from(clientCert.keyPem),
    Buffer.from(clientCert.certPem),
    {
      checkServerIdentity: () => undefined,
    },
  );

  const wanted = values.sides.split(',');
  if (wanted.join(',') !== 'raw,coalescing,protocol') {
    const some = [
      ...(wanted.includes('raw') ? [rawEcho(ports.echoPort, rawCreds)] : []),
      ...(wanted.includes('coalescing') ? [coalescingEcho(ports.echoPort, rawCreds)] : []),
      ...(wanted.includes('protocol') ? [protocol(ports.controlPort, pki, clientCert)] : []),
    ];
    for (let r = 0; r < REPEAT; r++) {
      const figures = await measureInterleaved(some);
      some.forEach((side, i) =>
        console.log(
          `run ${r + 1} ${side.name}: p50 ${figures[i]!.p50?.toFixed(0)} us, p99 ${figures[i]!.p99?.toFixed(0)} us, ${figures[i]!.perSecond.toFixed(0)}/s, ` +
            `CPU ${figures[i]!.cpuPerRoundTrip.toFixed(1)} us per round trip, ${figures[i]!.cpuPerCommand.toFixed(2)} us per pipelined command`,
        ),
      );
    }
    for (const side of some) await side.close();
    peer.disconnect();
    return;
  }
  const sides = [
    rawEcho(ports.echoPort, rawCreds),
    coalescingEcho(ports.echoPort, rawCreds),
    protocol(ports.controlPort, pki, clientCert),
  ];
  const runs: Array<[Figures, Figures, Figures]> = [];
  for (let r = 0; r < REPEAT; r++) {
    runs.push((await measureInterleaved(sides)) as [Figures, Figures, Figures]);
    const [raw, coal, our] = runs.at(-1)!;
    console.log(
      `run ${r + 1}: p50 ${raw.p50.toFixed(0)} / ${our.p50.toFixed(0)} us (${(our.p50 / raw.p50).toFixed(2)}x), ` +
        `p99 ${raw.p99.toFixed(0)} / ${our.p99.toFixed(0)} us (${(our.p99 / raw.p99).toFixed(2)}x), ` +
        `throughput raw ${raw.perSecond.toFixed(0)}, coalescing ${coal.perSecond.toFixed(0)}, protocol ${our.perSecond.toFixed(0)}/s ` +
        `(${(our.perSecond / raw.perSecond).toFixed(2)}x raw, ${(our.perSecond / coal.perSecond).toFixed(2)}x coalescing); ` +
        `CPU (both processes) per round trip ${raw.cpuPerRoundTrip.toFixed(1)} / ${our.cpuPerRoundTrip.toFixed(1)} us, ` +
        `per pipelined command raw ${raw.cpuPerCommand.toFixed(2)}, coalescing ${coal.cpuPerCommand.toFixed(2)}, protocol ${our.cpuPerCommand.toFixed(2)} us`,
    );
  }
  for (const side of sides) await side.close();
  peer.disconnect();

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const med = (i: 0 | 1 | 2, k: keyof Figures) => median(runs.map((run) => run[i][k]));
  const medRatio = (i: 0 | 1 | 2, j: 0 | 1 | 2, k: keyof Figures) =>
    median(runs.map((run) => run[i][k] / run[j][k]));
  console.log(
    `\ncontrol protocol vs raw grpc-js echo, mTLS (ECDSA P-256) on loopback, separate processes, node ${process.version}`,
  );
  console.log(
    `${REPEAT} runs; each: ${LATENCY_N} sequential round trips per side interleaved in blocks of 250, ${SECONDS} s of throughput per side with ${IN_FLIGHT} in flight interleaved in ${ROUNDS} windows; 64-byte payloads; medians over runs, ratio = median of same-run ratios\n`,
  );
  const row = (name: string, base: number, ours: number, ratio: number, unit: string, target: string) =>
    `${name.padEnd(40)} ${`${base.toFixed(0)} ${unit}`.padStart(14)} ${`${ours.toFixed(0)} ${unit}`.padStart(14)} ${ratio.toFixed(2).padStart(7)}x  ${target}`;
  console.log(
    `${''.padEnd(40)} ${'baseline'.padStart(14)} ${'protocol'.padStart(14)} ${'ratio'.padStart(8)}  target`,
  );
  console.log(
    row('round trip p50 vs raw echo', med(0, 'p50'), med(2, 'p50'), medRatio(2, 0, 'p50'), 'us', '<= 1.15x'),
  );
  console.log(
    row('round trip p99 vs raw echo', med(0, 'p99'), med(2, 'p99'), medRatio(2, 0, 'p99'), 'us', '<= 1.5x'),
  );
  console.log(
    row(
      `throughput vs raw echo (${IN_FLIGHT} in flight)`,
      med(0, 'perSecond'),
      med(2, 'perSecond'),
      medRatio(2, 0, 'perSecond'),
      '/s',
      '',
    ),
  );
  console.log(
    row(
      'throughput vs coalescing echo',
      med(1, 'perSecond'),
      med(2, 'perSecond'),
      medRatio(2, 1, 'perSecond'),
      '/s',
      '>= 1.0x',
    ),
  );
  // CPU time is what other load disturbs least on a shared machine: it says where the wall-clock ratios come from.
  console.log(
    row(
      'CPU per round trip, both processes',
      med(0, 'cpuPerRoundTrip'),
      med(2, 'cpuPerRoundTrip'),
      medRatio(2, 0, 'cpuPerRoundTrip'),
      'us',
      '',
    ),
  );
  console.log(
    row(
      'CPU per command, vs coalescing echo',
      med(1, 'cpuPerCommand'),
      med(2, 'cpuPerCommand'),
      medRatio(2, 1, 'cpuPerCommand'),
      'us',
      '',
    ),
  );
}

await main();
