// Fault drill, bad input at volume. Part 1: 100,000 malformed, oversized and out-of-order protocol
// messages at a real ControlServer (adapter handlers, in a child process), written as raw gRPC
// messages by a grpc-js client over mTLS; every answer (error ack, stream status, server log line)
// is tallied by kind. Part 2: 1,000 invalid SampleSources against a real kube-apiserver with the
// CRD from config/; every refusal's reason is tallied. No crash, no leak: server RSS before/after.
//
//   npm run build && node --expose-gc dist/bench/bad-input.js [--messages 100000] [--sources 1000]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { ControlClient } from '../control/index.js';
import {
  CONNECT_PATH,
  PROTOCOL_VERSION,
  CAPABILITIES,
  decodeEnvelope,
  encodeEnvelope,
  type Frame,
} from '../control/wire.js';
import { OP_APPLY_STATE } from '../contract/commands.js';
import { OPERATOR_IDENTITY, adapterIdentity } from '../contract/identities.js';
import { startControlPlane } from '../test/controlplane/controlplane.js';
import { startHost } from './lib/host-client.js';
import { BENCH_NAMESPACE, adapterName, hostAddress } from './lib/adapter-host.js';
import { fmt, mapLimit, printTable, repoRoot, rssOf, sleep, writeResult } from './lib/report.js';
import { runBench } from './lib/run.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    sources: { type: 'string', default: '1000' },
    skip: { type: 'string', default: '' },
    passes: { type: 'string', default: '2' },
  },
});
const MESSAGES = Number(values.messages);
const SOURCES = Number(values.sources);
const PASSES = Math.max(1, Math.min(10, Number(values.passes)));
const OCTET = 79;
const TARGET = `${hostAddress(OCTET, 0)}:9443`;

const tally = new Map<string, number>();
const count = (key: string, n = 1) => tally.set(key, (tally.get(key) ?? 0) + n);
const sentByKind = new Map<string, number>();
const sent = (kind: string) => sentByKind.set(kind, (sentByKind.get(kind) ?? 0) + 1);
const short = (s: string | undefined) =>
  String(s ?? '(no details)')
    .replace(/\s+/g, ' ')
    .replace(/"[^"]{20,}"/g, '"…"')
    .slice(0, 90);

function hello(overrides: Record<string, unknown> = {}): Frame {
  return {
    hello: {
      protocolVersion: PROTOCOL_VERSION,
      capabilities: [...CAPABILITIES],
      requiredCapabilities: [],
      identity: OPERATOR_IDENTITY,
      sessionId: `bad-${Math.random().toString(36).slice(2)}`,
      resumed: false,
      ...overrides,
    },
  };
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
let uniq = 0;
const id = () => `bad-${uniq++}`;

/** In-stream kinds: each returns the frame(s) of one message sent after a valid hello. */
const IN_STREAM: Record<string, () => Frame[]> = {
  'command without id': () => [{ command: { id: '', opcode: OP_APPLY_STATE, payload: json({}) } }],
  'command with empty opcode': () => [{ command: { id: id(), opcode: '', payload: json({}) } }],
  'command id over 256 chars': () => [
    { command: { id: `x${'y'.repeat(300)}${uniq++}`, opcode: OP_APPLY_STATE, payload: json({}) } },
  ],
  'unknown opcode': () => [{ command: { id: id(), opcode: 'samplesource.v1.Explode', payload: json({}) } }],
  'payload not JSON': () => [
    { command: { id: id(), opcode: OP_APPLY_STATE, payload: Buffer.from('{not json') } },
  ],
  'payload fails schema': () => [
    {
      command: {
        id: id(),
        opcode: OP_APPLY_STATE,
        payload: json({ generation: 0, interval: '1ms', paused: 'no' }),
      },
    },
  ],
  'frame with no kind': () => [{}],
  'empty envelope': () => [],
  'hello again mid-stream': () => [hello()],
  'ack for an unknown id': () => [{ ack: { id: id(), error: null } }],
  'result sent to the server': () => [
    {
      result: {
        id: id(),
        commandId: 'nope',
        opcode: OP_APPLY_STATE,
        succeeded: true,
        reason: '',
        message: '',
        detail: Buffer.alloc(0),
      },
    },
  ],
  'superseded generation': () => [
    {
      command: {
        id: id(),
        opcode: OP_APPLY_STATE,
        payload: json({ generation: 1 + (uniq % 1000), interval: '1s', paused: false }),
      },
    },
  ],
};

/** One stream: a valid hello, then `n` messages of in-stream kinds, acking results as they come. */
async function badStream(
  creds: grpc.ChannelCredentials,
  client: grpc.Client,
  n: number,
  kinds: string[],
): Promise<void> {
  const call = client.makeBidiStreamRequest<Buffer, Buffer>(
    CONNECT_PATH,
    (b) => b,
    (b) => b,
  );
  let answers = 0;
  const done = new Promise<void>((resolve) => {
    call.on('data', (bytes: Buffer) => {
      answers++;
      let env;
      try {
        env = decodeEnvelope(bytes);
      } catch {
        count('client could not decode a server message');
        return;
      }
      for (const f of env.frames) {
        if (f.ack)
          count(f.ack.error ? `ack error ${f.ack.error.code}: ${short(f.ack.error.message)}` : 'ack ok');
        if (f.result) {
          count(`async result ${f.result.succeeded ? 'succeeded' : `failed ${f.result.reason}`}`);
          call.write(encodeEnvelope({ frames: [{ ack: { id: f.result.id, error: null } }] }));
        }
      }
    });
    call.on('error', (e: grpc.ServiceError) =>
      count(`in-stream status ${grpc.status[e.code]}: ${short(e.details)}`),
    );
    call.on('status', () => resolve());
  });
  const write = async (frames: Frame[]) => {
    if (!call.write(encodeEnvelope({ frames }))) await new Promise((r) => call.once('drain', r));
  };
  await write([hello()]);
  // A current generation first, so that later ApplyStates with low generations are superseded.
  await write([
    {
      command: {
        id: id(),
        opcode: OP_APPLY_STATE,
        payload: json({ generation: 1_000_000, interval: '1s', paused: false }),
      },
    },
  ]);
  for (let i = 0; i < n; i++) {
    const kind = kinds[i % kinds.length]!;
    sent(kind);
    await write(IN_STREAM[kind]!());
  }
  // A duplicate of one command id: the original ack comes back, the handler does not run again.
  const dup = {
    command: {
      id: id(),
      opcode: OP_APPLY_STATE,
      payload: json({ generation: 1_000_000, interval: '1s', paused: false }),
    },
  };
  sent('duplicate command id');
  await write([dup]);
  await write([dup]);
  // Wait until the server has answered everything it will answer (no new answer for 3 s), then hang up.
  let seen = -1;
  for (let i = 0; i < 60 && answers !== seen; i++) {
    seen = answers;
    await sleep(3_000);
  }
  call.end();
  await Promise.race([done, sleep(10_000)]);
  void creds;
}

/** Stream-level kinds: each is the first (and only) message of a fresh stream. */
const STREAM_LEVEL: Record<string, { count: number; bytes: () => Buffer }> = {
  'garbage bytes (not protobuf)': {
    count: 2000,
    bytes: () => Buffer.from([0xff, 0xff, 0xff, 0x0f, 0x01, 0x02, ...Array<number>(32).fill(0x9a)]),
  },
  'command before hello': {
    count: 2000,
    bytes: () =>
      encodeEnvelope({ frames: [{ command: { id: id(), opcode: OP_APPLY_STATE, payload: json({}) } }] }),
  },
  'hello with protocol version 999': {
    count: 2000,
    bytes: () => encodeEnvelope({ frames: [hello({ protocolVersion: 999 })] }),
  },
  'hello without session id': {
    count: 2000,
    bytes: () => encodeEnvelope({ frames: [hello({ sessionId: '' })] }),
  },
  'hello requiring unknown capability': {
    count: 1000,
    bytes: () => encodeEnvelope({ frames: [hello({ requiredCapabilities: ['teleport'] })] }),
  },
  'oversized message (4.5 MiB)': {
    count: 100,
    bytes: () =>
      encodeEnvelope({
        frames: [hello(), { command: { id: id(), opcode: 'x', payload: Buffer.alloc(4.5 * 2 ** 20, 0x61) } }],
      }),
  },
};

async function oneShot(client: grpc.Client, kind: string, bytes: Buffer): Promise<void> {
  sent(kind);
  const call = client.makeBidiStreamRequest<Buffer, Buffer>(
    CONNECT_PATH,
    (b) => b,
    (b) => b,
  );
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      count(`${kind}: no answer in 10 s`);
      call.cancel();
      resolve();
    }, 10_000);
    call.on('data', () => undefined);
    call.on('error', (e: grpc.ServiceError) =>
      count(`stream status ${grpc.status[e.code]}: ${short(e.details)}`),
    );
    call.on('status', () => {
      clearTimeout(timer);
      resolve();
    });
    call.write(bytes);
  });
}

async function protocolPart() {
  const host = await startHost({ count: 1, octet: OCTET, port: 9443, countLogs: true });
  const creds = grpc.credentials.createSsl(
    Buffer.from(host.ca.certPem),
    Buffer.from(host.operatorTls.keyPem),
    Buffer.from(host.operatorTls.certPem),
    { checkServerIdentity: () => undefined },
  );
  const rawClient = new grpc.Client(TARGET, creds, {
    'grpc.max_send_message_length': 8 * 2 ** 20,
    'grpc.max_receive_message_length': 8 * 2 ** 20,
  });
  const healthy = async (): Promise<boolean> => {
    const c = new ControlClient({
      target: TARGET,
      tls: host.operatorTls,
      identity: OPERATOR_IDENTITY,
      expectedServerIdentity: adapterIdentity(BENCH_NAMESPACE, adapterName(0)),
      logger: pino({ level: 'silent' }),
    }).start();
    let ok = false;
    c.onResult((r) => (ok = r.succeeded));
    await c
      .sendAndWaitForAck(
        OP_APPLY_STATE,
        { generation: 2_000_000 + uniq++, interval: '2s', paused: false },
        { timeoutMs: 10_000 },
      )
      .catch(() => undefined);
    for (let i = 0; i < 100 && !ok; i++) await sleep(20);
    await c.close();
    return ok;
  };
  const healthyBefore = await healthy();
  await sleep(500);
  const before = (await host.ask<{ memory: NodeJS.MemoryUsage }>('memory')).memory;
  const t0 = performance.now();
  const streamLevelTotal = Object.values(STREAM_LEVEL).reduce((a, k) => a + k.count, 0);
  const inStreamTotal = Math.max(0, MESSAGES - streamLevelTotal);
  const perStream = 5000;
  const streams = Math.ceil(inStreamTotal / perStream);
  const kinds = Object.keys(IN_STREAM);
  const jobs = Object.entries(STREAM_LEVEL).flatMap(([kind, k]) =>
    Array.from({ length: k.count }, () => ({ kind, k })),
  );
  // Each pass sends the whole volume again; RSS after each pass tells a leak (keeps growing) from a
  // high-water mark (flat after the first pass).
  const afterPass: NodeJS.MemoryUsage[] = [];
  for (let pass = 0; pass < PASSES; pass++) {
    // Stream-level kinds, 20 streams at a time.
    await mapLimit(jobs, 20, ({ kind, k }) => oneShot(rawClient, kind, k.bytes()));
    // In-stream kinds: a few streams at once. Each stream adds one duplicate pair (2 messages) at its end.
    await mapLimit(
      Array.from({ length: streams }, (_, i) => i),
      4,
      (i) => badStream(creds, rawClient, Math.min(perStream, inStreamTotal - i * perStream) - 2, kinds),
    );
    await sleep(3_000);
    afterPass.push((await host.ask<{ memory: NodeJS.MemoryUsage }>('memory')).memory);
    console.log(
      `pass ${pass + 1}: server RSS ${fmt(afterPass.at(-1)!.rss / 2 ** 20)} MiB, heap ${fmt(afterPass.at(-1)!.heapUsed / 2 ** 20)} MiB (after GC)`,
    );
  }
  const elapsed = performance.now() - t0;
  rawClient.close();
  const after = afterPass.at(-1)!;
  const logs = (await host.ask<{ counts: Record<string, { count: number; example: string }> }>('log-counts'))
    .counts;
  const healthyAfter = await healthy();
  const alive = host.child.exitCode === null;
  await host.stop();
  const messagesSent = [...sentByKind.entries()].reduce(
    (a, [k, v]) => a + (k === 'duplicate command id' ? 2 * v : v),
    0,
  );
  return { before, after, afterPass, logs, healthyBefore, healthyAfter, alive, elapsed, messagesSent };
}

const INVALID: Record<string, Record<string, unknown> | undefined> = {
  'interval below 100ms': { interval: '50ms', sink: { uri: 'http://127.0.0.1:1/' } },
  'interval above 24h': { interval: '48h', sink: { uri: 'http://127.0.0.1:1/' } },
  'interval not a duration': { interval: 'ten seconds', sink: { uri: 'http://127.0.0.1:1/' } },
  'sink missing': { interval: '1s' },
  'sink with neither ref nor uri': { sink: {} },
  'sink uri not http(s)': { sink: { uri: 'ftp://127.0.0.1/x' } },
  'sink ref with an absolute uri': {
    sink: { ref: { apiVersion: 'v1', kind: 'Service', name: 's' }, uri: 'http://127.0.0.1/' },
  },
  'replicas 0': { replicas: 0, sink: { uri: 'http://127.0.0.1:1/' } },
  'replicas 11': { replicas: 11, sink: { uri: 'http://127.0.0.1:1/' } },
  'bad serviceAccountName': { serviceAccountName: 'Bad_Name', sink: { uri: 'http://127.0.0.1:1/' } },
  'bad extension name': {
    ceOverrides: { extensions: { 'Bad-Key': 'v' } },
    sink: { uri: 'http://127.0.0.1:1/' },
  },
  'paused not a boolean': { paused: 'yes', sink: { uri: 'http://127.0.0.1:1/' } },
  'spec missing': undefined,
};

async function apiserverPart() {
  const cp = await startControlPlane({ controllerManager: false });
  try {
    cp.kubectl([
      'apply',
      '-f',
      join(repoRoot, 'config/100-namespace.yaml'),
      '-f',
      join(repoRoot, 'config/300-samplesource-crd.yaml'),
    ]);
    cp.kubectl([
      'wait',
      '--for=condition=Established',
      'crd/samplesources.samples.knative.dev',
      '--timeout=60s',
    ]);
    cp.kubectl(['create', 'namespace', 'bench-invalid']);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cp.adminKubeconfig);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const apiserver = cp.processes.find((p) => p.name === 'kube-apiserver')!;
    await sleep(2_000);
    const rssBefore = rssOf(apiserver.pid) ?? 0;
    const reasons = new Map<string, number>();
    const byKind = new Map<string, { refused: number; accepted: number; example: string }>();
    const kinds = Object.keys(INVALID);
    const t0 = performance.now();
    await mapLimit(
      Array.from({ length: SOURCES }, (_, i) => i),
      20,
      async (i) => {
        const kind = kinds[i % kinds.length]!;
        const rec = byKind.get(kind) ?? { refused: 0, accepted: 0, example: '' };
        byKind.set(kind, rec);
        const spec = INVALID[kind];
        try {
          await custom.createNamespacedCustomObject({
            group: 'samples.knative.dev',
            version: 'v1alpha1',
            namespace: 'bench-invalid',
            plural: 'samplesources',
            body: {
              apiVersion: 'samples.knative.dev/v1alpha1',
              kind: 'SampleSource',
              metadata: { name: `bad-${i}` },
              ...(spec ? { spec } : {}),
            },
          });
          rec.accepted++;
        } catch (err) {
          const e = err as { code?: number; body?: string };
          let message = String(e.body ?? err);
          try {
            const b = JSON.parse(message) as {
              message?: string;
              details?: { causes?: Array<{ field?: string; message?: string }> };
            };
            const causes = b.details?.causes?.map((c) => `${c.field ?? ''}: ${c.message ?? ''}`);
            message = causes?.length ? causes.join('; ') : (b.message ?? message);
          } catch {
            // not JSON: keep the text
          }
          rec.refused++;
          rec.example ||= `HTTP ${e.code}: ${message}`;
          const key = `HTTP ${e.code}: ${short(message)}`;
          reasons.set(key, (reasons.get(key) ?? 0) + 1);
        }
      },
    );
    const elapsed = performance.now() - t0;
    await sleep(2_000);
    const rssAfter = rssOf(apiserver.pid) ?? 0;
    return {
      rssBefore,
      rssAfter,
      reasons: Object.fromEntries(reasons),
      byKind: Object.fromEntries(byKind),
      elapsed,
      alive: rssAfter > 0,
    };
  } finally {
    await cp.stop();
  }
}

async function main(): Promise<void> {
  const result: Record<string, unknown> = {};
  if (!values.skip.includes('protocol')) {
    const p = await protocolPart();
    const refusals = [...tally.entries()].sort((a, b) => b[1] - a[1]);
    console.log(
      `\nprotocol: ${p.messagesSent} bad messages in ${fmt(p.elapsed / 1000)} s; answers seen by the sender:`,
    );
    printTable(
      ['answer', 'count'],
      refusals.map(([k, v]) => [k, v]),
    );
    console.log('\nserver log lines (warn and above), by message:');
    printTable(
      ['log message', 'count'],
      Object.entries(p.logs)
        .sort((a, b) => b[1].count - a[1].count)
        .map(([k, v]) => [k.slice(0, 100), v.count]),
    );
    console.log('\nsent, by kind:');
    printTable(
      ['kind', 'messages'],
      [...sentByKind.entries()].map(([k, v]) => [k, k === 'duplicate command id' ? `${v} pairs` : v]),
    );
    const mb = (b: number) => `${fmt(b / 2 ** 20)} MiB`;
    console.log(
      `\nbad input (protocol): ${p.messagesSent} messages, server alive ${p.alive}, serves a real ApplyState before ${p.healthyBefore} / after ${p.healthyAfter}; ` +
        `server RSS ${mb(p.before.rss)} -> ${mb(p.after.rss)}, heap ${mb(p.before.heapUsed)} -> ${mb(p.after.heapUsed)} (after GC)`,
    );
    result.protocol = {
      ...p,
      answers: Object.fromEntries(refusals),
      sentByKind: Object.fromEntries(sentByKind),
    };
  }
  if (!values.skip.includes('apiserver')) {
    const a = await apiserverPart();
    console.log(`\napiserver: ${SOURCES} invalid SampleSources in ${fmt(a.elapsed / 1000)} s, by kind:`);
    printTable(
      ['kind', 'refused', 'accepted', 'example reason'],
      Object.entries(a.byKind).map(([k, v]) => [k, v.refused, v.accepted, v.example.slice(0, 110)]),
    );
    const refused = Object.values(a.byKind).reduce((x, v) => x + v.refused, 0);
    const accepted = Object.values(a.byKind).reduce((x, v) => x + v.accepted, 0);
    console.log(
      `\nbad input (apiserver): ${SOURCES} invalid SampleSources, ${refused} refused with a reason, ${accepted} accepted; kube-apiserver RSS ${fmt(a.rssBefore / 2 ** 20)} -> ${fmt(a.rssAfter / 2 ** 20)} MiB`,
    );
    result.apiserver = a;
  }
  const file = writeResult('bad-input', result);
  console.log(`results: ${file}`);
}

runBench(main);
