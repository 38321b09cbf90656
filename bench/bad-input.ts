// Fault drill, bad input at volume. Part 1: 100,000 malformed, oversized, out-of-order and
// window-breaking protocol messages at a real ControlServer (adapter handlers, in a child process),
// written as raw gRPC messages by a grpc-js client over mTLS. Every answer (ack, async result, stream
// status) is matched to the kind of message that caused it, and every reliable message left without
// an ack or stream left without a status is counted as "left silent" (the drill's criterion: 0).
// Part 2: 1,000 invalid SampleSources against a real kube-apiserver with the CRD from config/; every
// refusal's reason is tallied. No crash, no leak: server RSS and heap after each pass.
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
    .replace(/\(\d+ vs (\d+)\)/, '(… vs $1)')
    .replace(/bad-\d+/g, 'bad-…')
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

/**
 * In-stream kinds the server answers without ending the stream, sent after a valid hello and within
 * the in-flight window the server advertised. `reliable` kinds carry an id and must get an ack (an
 * error ack for the malformed ones); the others have nobody waiting and must get no answer at all.
 */
const ANSWERED: Record<string, { reliable: boolean; frame: (id: string) => Frame[] }> = {
  'command with empty opcode': {
    reliable: true,
    frame: (id) => [{ command: { id, opcode: '', payload: json({}) } }],
  },
  'command id over 256 chars': {
    reliable: true,
    frame: (id) => [
      { command: { id: `${id}-${'y'.repeat(300)}`, opcode: OP_APPLY_STATE, payload: json({}) } },
    ],
  },
  'unknown opcode': {
    reliable: true,
    frame: (id) => [{ command: { id, opcode: 'samplesource.v1.Explode', payload: json({}) } }],
  },
  'payload not JSON': {
    reliable: true,
    frame: (id) => [{ command: { id, opcode: OP_APPLY_STATE, payload: Buffer.from('{not json') } }],
  },
  'payload fails schema': {
    reliable: true,
    frame: (id) => [
      {
        command: {
          id,
          opcode: OP_APPLY_STATE,
          payload: json({ generation: 0, interval: '1ms', paused: 'no' }),
        },
      },
    ],
  },
  'result sent to the server': {
    reliable: true,
    frame: (id) => [
      {
        result: {
          id,
          commandId: 'nope',
          opcode: OP_APPLY_STATE,
          succeeded: true,
          reason: '',
          message: '',
          detail: Buffer.alloc(0),
        },
      },
    ],
  },
  'superseded generation': {
    reliable: true,
    frame: (id) => [
      {
        command: {
          id,
          opcode: OP_APPLY_STATE,
          payload: json({ generation: 1 + (uniq % 1000), interval: '1s', paused: false }),
        },
      },
    ],
  },
  'frame with no kind': { reliable: false, frame: () => [{}] },
  'empty envelope': { reliable: false, frame: () => [] },
  'ack for an unknown id': { reliable: false, frame: (id) => [{ ack: { id, error: null } }] },
};

/** What the sender saw, by the kind of message that caused it. */
const answersByKind = new Map<string, Map<string, number>>();
function answered(kind: string, answer: string): void {
  const m = answersByKind.get(kind) ?? new Map<string, number>();
  m.set(answer, (m.get(answer) ?? 0) + 1);
  answersByKind.set(kind, m);
  count(answer);
}

type BidiCall = grpc.ClientDuplexStream<Buffer, Buffer>;
const openStream = (client: grpc.Client): BidiCall =>
  client.makeBidiStreamRequest<Buffer, Buffer>(
    CONNECT_PATH,
    (b) => b,
    (b) => b,
  );
async function writeBytes(call: BidiCall, bytes: Buffer): Promise<void> {
  if (!call.write(bytes)) await new Promise((r) => call.once('drain', r));
}

/**
 * One stream: a valid hello, then `n` messages of answered kinds, never more unanswered reliable
 * messages than half the window the server's hello advertised, acking results as they come. Every
 * ack is matched to the message (and kind) it answers; a reliable message left without an ack is
 * counted as `no answer`.
 */
async function badStream(client: grpc.Client, n: number, kinds: string[]): Promise<void> {
  const call = openStream(client);
  const pending = new Map<string, string>(); // command or result id -> kind, until acked
  const resultFor = new Map<string, string>(); // command id -> kind, until its async result
  let window = 0;
  const dupId = id();
  let dupResults = 0;
  let wake: (() => void) | undefined;
  const progressed = () => {
    wake?.();
    wake = undefined;
  };
  let ended = false;
  const done = new Promise<void>((resolve) => {
    call.on('data', (bytes: Buffer) => {
      let env;
      try {
        env = decodeEnvelope(bytes);
      } catch {
        count('client could not decode a server message');
        return;
      }
      for (const f of env.frames) {
        if (f.hello) window = Math.max(1, Math.floor((f.hello.limits?.maxInFlight || 256) / 2));
        if (f.ack) {
          const kind = pending.get(f.ack.id) ?? '(ack for an id not sent)';
          pending.delete(f.ack.id);
          answered(
            kind,
            f.ack.error ? `ack error ${f.ack.error.code}: ${short(f.ack.error.message)}` : 'ack ok',
          );
        }
        if (f.result?.commandId === dupId) {
          dupResults++;
          call.write(encodeEnvelope({ frames: [{ ack: { id: f.result.id, error: null } }] }));
        } else if (f.result) {
          const kind = resultFor.get(f.result.commandId) ?? '(result for a command not sent)';
          resultFor.delete(f.result.commandId);
          answered(kind, `async result ${f.result.succeeded ? 'succeeded' : `failed ${f.result.reason}`}`);
          call.write(encodeEnvelope({ frames: [{ ack: { id: f.result.id, error: null } }] }));
        }
      }
      progressed();
    });
    call.on('error', (e: grpc.ServiceError) => {
      if (!ended) count(`in-stream status ${grpc.status[e.code]}: ${short(e.details)}`);
    });
    call.on('status', () => {
      progressed();
      resolve();
    });
  });
  const waitForProgress = (ms: number) => Promise.race([new Promise<void>((r) => (wake = r)), sleep(ms)]);
  await writeBytes(call, encodeEnvelope({ frames: [hello()] }));
  // A current generation first, so that later ApplyStates with low generations are superseded.
  const first = id();
  pending.set(first, 'current generation (set-up)');
  resultFor.set(first, 'current generation (set-up)');
  await writeBytes(
    call,
    encodeEnvelope({
      frames: [
        {
          command: {
            id: first,
            opcode: OP_APPLY_STATE,
            payload: json({ generation: 1_000_000, interval: '1s', paused: false }),
          },
        },
      ],
    }),
  );
  for (let i = 0; i < n; i++) {
    while (window === 0 || pending.size >= window) await waitForProgress(1_000);
    const kind = kinds[i % kinds.length]!;
    const { reliable, frame } = ANSWERED[kind]!;
    const mid = id();
    const frames = frame(mid);
    const sentId = frames[0]?.command?.id ?? frames[0]?.result?.id;
    if (reliable && sentId) pending.set(sentId, kind);
    if (kind === 'superseded generation') resultFor.set(mid, kind);
    sent(kind);
    await writeBytes(call, encodeEnvelope({ frames }));
  }
  // A duplicate of one command id: each copy gets an ack, the handler runs once (one async result).
  const dup = encodeEnvelope({
    frames: [
      {
        command: {
          id: dupId,
          opcode: OP_APPLY_STATE,
          payload: json({ generation: 1_000_001, interval: '1s', paused: false }),
        },
      },
    ],
  });
  sent('duplicate command id');
  pending.set(dupId, 'duplicate command id');
  await writeBytes(call, dup);
  while (pending.has(dupId) || dupResults === 0) await waitForProgress(1_000);
  pending.set(dupId, 'duplicate command id');
  await writeBytes(call, dup);
  // Everything reliable is answered, or 30 s pass without progress.
  let idle = 0;
  while (pending.size > 0 && idle < 30) {
    const before = pending.size;
    await waitForProgress(1_000);
    idle = pending.size === before ? idle + 1 : 0;
  }
  for (const kind of pending.values()) answered(kind, 'no answer (left silent)');
  await sleep(200);
  for (const kind of resultFor.values()) answered(kind, 'no async result');
  answered('duplicate command id', `async results for the two copies: ${dupResults}`);
  ended = true;
  call.end();
  await Promise.race([done, sleep(10_000)]);
}

/**
 * In-stream kinds that end the stream with a status (a valid hello first, then this): each is the
 * last message of its stream. The window flood writes 10,000 commands in 6 envelopes without
 * waiting, as a client that ignores the advertised window: it must get a clear status, never silence.
 */
const TERMINAL: Record<string, { count: number; messages: number; envelopes: () => Buffer[] }> = {
  'command without id (after hello)': {
    count: 500,
    messages: 1,
    envelopes: () => [
      encodeEnvelope({ frames: [{ command: { id: '', opcode: OP_APPLY_STATE, payload: json({}) } }] }),
    ],
  },
  'result without id (after hello)': {
    count: 500,
    messages: 1,
    envelopes: () => [
      encodeEnvelope({
        frames: [
          {
            result: {
              id: '',
              commandId: 'x',
              opcode: OP_APPLY_STATE,
              succeeded: true,
              reason: '',
              message: '',
              detail: Buffer.alloc(0),
            },
          },
        ],
      }),
    ],
  },
  'hello again mid-stream': {
    count: 500,
    messages: 1,
    envelopes: () => [encodeEnvelope({ frames: [hello()] })],
  },
  'garbage bytes after hello': {
    count: 500,
    messages: 1,
    envelopes: () => [Buffer.from([0xff, 0xff, 0xff, 0x0f, 0x01, 0x02, ...Array<number>(32).fill(0x9a)])],
  },
  'window flood: 10,000 commands in 6 envelopes, no waiting': {
    count: 5,
    messages: 10_000,
    envelopes: () =>
      Array.from({ length: 6 }, (_, e) =>
        encodeEnvelope({
          frames: Array.from({ length: e < 5 ? 1667 : 10_000 - 5 * 1667 }, () => ({
            command: {
              id: id(),
              opcode: OP_APPLY_STATE,
              payload: json({ generation: 1_000_000, interval: '1s', paused: false }),
            },
          })),
        }),
      ),
  },
};

/** Acks each window flood got before its status (how far the server served it). */
const floodAcks: number[] = [];

/** Resolves when `call` ends; a stream ending with an error is an answer to `kind`, no status in 20 s is silence. */
function awaitStatus(call: BidiCall, kind: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      answered(kind, 'no status in 20 s (left silent)');
      call.cancel();
      resolve();
    }, 20_000);
    call.on('error', (e: grpc.ServiceError) =>
      answered(kind, `stream status ${grpc.status[e.code]}: ${short(e.details)}`),
    );
    call.on('status', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function terminalStream(client: grpc.Client, kind: string): Promise<void> {
  const spec = TERMINAL[kind]!;
  for (let i = 0; i < spec.messages; i++) sent(kind);
  const call = openStream(client);
  let acks = 0;
  call.on('data', (bytes: Buffer) => {
    for (const f of decodeEnvelope(bytes).frames) if (f.ack) acks++;
  });
  const ended = awaitStatus(call, kind);
  // Not awaited: a refused stream may never drain again, and its status is what counts.
  void (async () => {
    await writeBytes(call, encodeEnvelope({ frames: [hello()] }));
    for (const bytes of spec.envelopes()) await writeBytes(call, bytes).catch(() => undefined);
  })();
  await ended;
  if (spec.messages > 1) floodAcks.push(acks);
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
  'stream opened, no hello written': { count: 20, bytes: () => Buffer.alloc(0) },
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
  const call = openStream(client);
  call.on('data', () => undefined);
  const ended = awaitStatus(call, kind);
  if (bytes.length > 0) call.write(bytes);
  await ended;
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
  const terminalTotal = Object.values(TERMINAL).reduce((a, k) => a + k.count * k.messages, 0);
  const inStreamTotal = Math.max(0, MESSAGES - streamLevelTotal - terminalTotal);
  const perStream = 5000;
  const streams = Math.ceil(inStreamTotal / perStream);
  const kinds = Object.keys(ANSWERED);
  const jobs = Object.entries(STREAM_LEVEL).flatMap(([kind, k]) =>
    Array.from({ length: k.count }, () => ({ kind, k })),
  );
  const terminalJobs = Object.entries(TERMINAL).flatMap(([kind, k]) =>
    Array.from({ length: k.count }, () => kind),
  );
  // Each pass sends the whole volume again; RSS after each pass tells a leak (keeps growing) from a
  // high-water mark (flat after the first pass).
  const afterPass: NodeJS.MemoryUsage[] = [];
  for (let pass = 0; pass < PASSES; pass++) {
    // Stream-level kinds, 20 streams at a time.
    await mapLimit(jobs, 20, ({ kind, k }) => oneShot(rawClient, kind, k.bytes()));
    // Stream-ending kinds after a valid hello, 20 streams at a time.
    await mapLimit(terminalJobs, 20, (kind) => terminalStream(rawClient, kind));
    // Answered kinds: a few streams at once. Each stream adds one duplicate pair (2 messages) at its end.
    await mapLimit(
      Array.from({ length: streams }, (_, i) => i),
      4,
      (i) => badStream(rawClient, Math.min(perStream, inStreamTotal - i * perStream) - 2, kinds),
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
      `\nprotocol: ${p.messagesSent} bad messages in ${fmt(p.elapsed / 1000)} s; what the sender saw, by the kind it sent:`,
    );
    printTable(
      ['kind', 'sent', 'answer (count)'],
      [...sentByKind.entries()].map(([kind, n]) => [
        kind,
        kind === 'duplicate command id' ? `${n} pairs` : n,
        [...(answersByKind.get(kind) ?? new Map([['no answer (none expected)', n]])).entries()]
          .map(([a, c]) => `${a} (${c})`)
          .join('; '),
      ]),
    );
    const silent = refusals.filter(([k]) => k.includes('left silent')).reduce((a, [, v]) => a + v, 0);
    console.log(
      `\nleft silent (a reliable message without an ack, a stream without a status): ${silent}; ` +
        `acks each window flood got before its status: ${floodAcks.join(', ') || '(none)'}`,
    );
    console.log('\nserver log lines (warn and above), by message:');
    printTable(
      ['log message', 'count'],
      Object.entries(p.logs)
        .sort((a, b) => b[1].count - a[1].count)
        .map(([k, v]) => [k.slice(0, 100), v.count]),
    );
    const mb = (b: number) => `${fmt(b / 2 ** 20)} MiB`;
    console.log(
      `\nbad input (protocol): ${p.messagesSent} messages, ${silent} left silent, server alive ${p.alive}, serves a real ApplyState before ${p.healthyBefore} / after ${p.healthyAfter}; ` +
        `server RSS ${mb(p.before.rss)} -> ${mb(p.after.rss)}, heap ${mb(p.before.heapUsed)} -> ${mb(p.after.heapUsed)} (after GC)`,
    );
    result.protocol = {
      ...p,
      answers: Object.fromEntries(refusals),
      answersByKind: Object.fromEntries([...answersByKind].map(([k, m]) => [k, Object.fromEntries(m)])),
      sentByKind: Object.fromEntries(sentByKind),
      floodAcks,
      silent,
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
