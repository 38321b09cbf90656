// Control protocol benchmark: sendAndWaitForAck round trip (one in flight) and throughput (many in
// flight) over mTLS on loopback, each beside a raw grpc-js bidirectional echo measured in the same
// run with the same TLS. Server and client run in separate processes. Prints figures; not a test.
//
//   node --experimental-transform-types --no-warnings --import ./adapter/ts-hooks.mjs bench/protocol.ts
//   … bench/protocol.ts --latency 5000 --seconds 3 --inflight 256
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
    rounds: { type: 'string', default: '2' },
  },
});
const LATENCY_N = Number(values.latency);
const SECONDS = Number(values.seconds);
const IN_FLIGHT = Number(values.inflight);
const ROUNDS = Number(values.rounds);
const SERVER_ID = 'spiffe://samplesource.bench/adapter';
const CLIENT_ID = 'spiffe://samplesource.bench/operator';
// 64 bytes on the wire in both cases: raw bytes, and the JSON payload of a command.
const RAW_PAYLOAD = Buffer.alloc(64, 0x61);
const COMMAND_PAYLOAD = { d: 'a'.repeat(56) };

interface Figures {
  p50: number;
  p99: number;
  perSecond: number;
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Round trips one at a time, then a window of `inFlight` kept full for SECONDS. */
async function measure(roundTrip: () => Promise<void>, pipelined: (inFlight: number, ms: number) => Promise<number>) {
  for (let i = 0; i < 1000; i++) await roundTrip(); // warm up JIT and TLS session
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_N; i++) {
    const t0 = performance.now();
    await roundTrip();
    samples.push((performance.now() - t0) * 1000);
  }
  samples.sort((a, b) => a - b);
  await pipelined(IN_FLIGHT, 500); // warm up
  const count = await pipelined(IN_FLIGHT, SECONDS * 1000);
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), perSecond: count / SECONDS };
}

async function rawEcho(port: number, creds: grpc.ChannelCredentials): Promise<Figures> {
  const client = new grpc.Client(`127.0.0.1:${port}`, creds);
  const def = RAW_ECHO_SERVICE['Echo']!;
  const call = client.makeBidiStreamRequest<Buffer, Buffer>(def.path, def.requestSerialize, def.responseDeserialize);
  let onEcho: () => void = () => {};
  call.on('data', () => onEcho());
  const roundTrip = () =>
    new Promise<void>((resolve) => {
      onEcho = resolve;
      call.write(RAW_PAYLOAD);
    });
  const pipelined = (inFlight: number, ms: number) =>
    new Promise<number>((resolve) => {
      let done = 0;
      let outstanding = 0;
      const until = performance.now() + ms;
      let stopping = false;
      onEcho = () => {
        done++;
        outstanding--;
        if (!stopping && performance.now() < until) {
          outstanding++;
          call.write(RAW_PAYLOAD);
        } else {
          stopping = true;
          if (outstanding === 0) resolve(done);
        }
      };
      for (let i = 0; i < inFlight; i++) {
        outstanding++;
        call.write(RAW_PAYLOAD);
      }
    });
  const figures = await measure(roundTrip, pipelined);
  call.end();
  client.close();
  return figures;
}

async function protocol(port: number, pki: BenchPki, clientCert: { certPem: string; keyPem: string }): Promise<Figures> {
  const client = new ControlClient({
    target: `127.0.0.1:${port}`,
    tls: { caPem: pki.ca, ...clientCert },
    identity: CLIENT_ID,
    expectedServerIdentity: SERVER_ID,
    limits: { maxInFlight: 4096, maxOutbox: 4096 },
  }).start();
  const roundTrip = async () => void (await client.sendAndWaitForAck('echo', COMMAND_PAYLOAD));
  const pipelined = async (inFlight: number, ms: number) => {
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
  };
  const figures = await measure(roundTrip, pipelined);
  await client.close();
  return figures;
}

async function main(): Promise<void> {
  const ca = await createCertificateAuthority({ commonName: 'bench-ca' });
  const server = await ca.issue({ commonName: 'adapter', uris: [SERVER_ID] });
  const clientCert = await ca.issue({ commonName: 'operator', uris: [CLIENT_ID] });
  const pki: BenchPki = { ca: ca.certPem, serverCert: server.certPem, serverKey: server.keyPem, serverId: SERVER_ID, clientId: CLIENT_ID };

  const peer = fork(fileURLToPath(new URL('./protocol-peer.ts', import.meta.url)), [], {
    execArgv: process.execArgv,
    stdio: 'inherit',
  });
  const ports = await new Promise<{ controlPort: number; echoPort: number }>((resolve) => {
    peer.once('message', (m) => resolve(m as { controlPort: number; echoPort: number }));
    peer.send(pki);
  });
  const rawCreds = grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(clientCert.keyPem), Buffer.from(clientCert.certPem), {
    checkServerIdentity: () => undefined,
  });

  const raws: Figures[] = [];
  const ours: Figures[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, so warm-up and machine noise do not favour one side.
    if (round % 2 === 0) {
      raws.push(await rawEcho(ports.echoPort, rawCreds));
      ours.push(await protocol(ports.controlPort, pki, clientCert));
    } else {
      ours.push(await protocol(ports.controlPort, pki, clientCert));
      raws.push(await rawEcho(ports.echoPort, rawCreds));
    }
  }
  peer.disconnect();

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const pick = (fs: Figures[]): Figures => ({
    p50: median(fs.map((f) => f.p50)),
    p99: median(fs.map((f) => f.p99)),
    perSecond: median(fs.map((f) => f.perSecond)),
  });
  const raw = pick(raws);
  const our = pick(ours);
  const row = (name: string, r: number, o: number, unit: string, target: string) =>
    `${name.padEnd(34)} ${`${r.toFixed(0)} ${unit}`.padStart(14)} ${`${o.toFixed(0)} ${unit}`.padStart(14)} ${(o / r).toFixed(2).padStart(7)}x  ${target}`;
  console.log(`control protocol vs raw grpc-js echo, mTLS (ECDSA P-256) on loopback, separate processes, node ${process.version}`);
  console.log(`${ROUNDS} rounds (median shown); latency over ${LATENCY_N} sequential round trips; throughput ${SECONDS} s with ${IN_FLIGHT} in flight; 64-byte payloads\n`);
  console.log(`${''.padEnd(34)} ${'raw echo'.padStart(14)} ${'protocol'.padStart(14)} ${'ratio'.padStart(8)}  target`);
  console.log(row('round trip p50 (1 in flight)', raw.p50, our.p50, 'us', '<= 1.3x'));
  console.log(row('round trip p99 (1 in flight)', raw.p99, our.p99, 'us', ''));
  console.log(row(`throughput (${IN_FLIGHT} in flight)`, raw.perSecond, our.perSecond, 'msg/s', '>= 0.7x'));
}

await main();
