// Explicit credit instead of pausing: a peer that ignores the advertised in-flight window is either
// served completely or refused with RESOURCE_EXHAUSTED naming the limit, never left open and silent
// (issue 14: 3,000 commands in six envelopes used to wedge the stream for good). Real mTLS, real server.
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { FaultInjector } from './fault-injector.js';
import {
  captureLogger,
  CLIENT_ID,
  eventually,
  rawCall,
  rawCredentials,
  startTestClient,
  startTestServer,
} from './testing.js';
import { controlTestkit } from './testkit.js';
import { decodeEnvelope, encodeEnvelope } from './wire.js';
import type { Frame } from './wire.js';

const { p, cleanups, track } = controlTestkit();

const TOTAL = 10_000;
const PER_ENVELOPE = 1_700; // six envelopes of ~1.9 MB each
const PAD = 'p'.repeat(1000);

interface Outcome {
  acks: number;
  results: number;
  status: grpc.StatusObject | null;
  helloLimits: unknown;
}

/**
 * A raw client that ignores the window: hello, then all commands at once in big envelopes. It reads everything and
 * acks every result (as any client must), and reports what it got once the stream ends or `quietMs` pass silent.
 */
async function flood(port: number, opcode: string, quietMs = 5_000): Promise<Outcome> {
  const { call, client } = rawCall(port, rawCredentials(p.clientTls), {
    'grpc.max_send_message_length': 8 * 1024 * 1024,
    'grpc.max_receive_message_length': 8 * 1024 * 1024,
  });
  cleanups.push(() => client.close());
  const out: Outcome = { acks: 0, results: 0, status: null, helloLimits: undefined };
  let lastActivity = Date.now();
  const ended = new Promise<void>((resolve) => {
    call.on('data', (bytes: Buffer) => {
      lastActivity = Date.now();
      const acks: Frame[] = [];
      for (const f of decodeEnvelope(bytes).frames) {
        if (f.hello) out.helloLimits = f.hello.limits;
        if (f.ack) out.acks++;
        if (f.result) {
          out.results++;
          acks.push({ ack: { id: f.result.id } });
        }
      }
      if (acks.length > 0) call.write(encodeEnvelope({ frames: acks }));
    });
    call.on('error', () => {});
    call.on('status', (s: grpc.StatusObject) => {
      out.status = s;
      resolve();
    });
  });
  call.write(
    encodeEnvelope({
      frames: [{ hello: { protocolVersion: 1, capabilities: [], identity: CLIENT_ID, sessionId: 'flood' } }],
    }),
  );
  for (let start = 0; start < TOTAL; start += PER_ENVELOPE) {
    const frames: Frame[] = [];
    for (let n = start; n < Math.min(TOTAL, start + PER_ENVELOPE); n++)
      frames.push({
        command: { id: `c${n}`, opcode, payload: Buffer.from(JSON.stringify({ n, pad: PAD })) },
      });
    call.write(encodeEnvelope({ frames })); // no waiting for drain or acks: the window is ignored
  }
  const served = (): boolean => out.acks >= TOTAL && (opcode !== 'work' || out.results >= TOTAL);
  // Done when the stream ended, or everything was served; silence for quietMs with neither is the bug.
  while (!out.status && !served() && Date.now() - lastActivity < quietMs)
    await new Promise((r) => setTimeout(r, 20));
  if (served() && !out.status) {
    call.end();
    await ended;
  }
  call.cancel();
  return out;
}

it('advertises its limits in the hello', async () => {
  const { server, port } = await startTestServer(p, { limits: { maxInFlight: 64, maxOutbox: 512 } });
  track(server);
  server.handle('noop', z.unknown(), () => {});
  const out = await flood(port, 'noop');
  expect(out.helloLimits).toEqual({
    maxInFlight: 64,
    maxOutbox: 512,
    dedupWindow: 4096,
    maxMessageBytes: 4 * 1024 * 1024,
  });
}, 60_000);

it('serves a window-ignoring client completely when the handler keeps up (plain commands)', async () => {
  const { server, port } = await startTestServer(p);
  track(server);
  let runs = 0;
  server.handle('noop', z.object({ n: z.number() }).loose(), () => void runs++);
  const out = await flood(port, 'noop');
  expect(out.acks).toBe(TOTAL);
  expect(runs).toBe(TOTAL);
  expect(out.status?.code).toBe(grpc.status.OK);
}, 60_000);

it('refuses a window-ignoring client with RESOURCE_EXHAUSTED naming the limit once async work backs up, never going silent', async () => {
  const { server, port } = await startTestServer(p);
  track(server);
  let runs = 0;
  server.handleAsync('work', z.object({ n: z.number() }).loose(), async (_x, ctx) => {
    runs++;
    await new Promise((r) => setImmediate(r));
    ctx.notifySuccess();
  });
  const out = await flood(port, 'work');
  // Either everything was served or the stream ended with the named limit: an open, silent stream fails here.
  if (out.acks < TOTAL || out.results < TOTAL) {
    expect(out.status).not.toBeNull();
    expect(out.status!.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(out.status!.details).toMatch(
      /in-flight window exceeded: \d+ reliable messages unanswered, limit maxInFlight=256/,
    );
  }
  // What was acked before the refusal ran (once each), and the server still serves a well-behaved client.
  expect(runs).toBeLessThanOrEqual(out.acks);
  const good = track(startTestClient(p, port));
  const results: string[] = [];
  good.onResult((r) => results.push(r.commandId));
  const acks = await Promise.all(
    Array.from({ length: TOTAL }, (_, n) =>
      good.sendAndWaitForAck('work', { n, pad: PAD }, { id: `g${n}`, timeoutMs: 0 }),
    ),
  );
  expect(acks).toHaveLength(TOTAL);
  const until = Date.now() + 30_000;
  while (results.length < TOTAL && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  expect(results).toHaveLength(TOTAL);
}, 120_000);

it('ends the stream of a client that keeps sending but stops reading, with RESOURCE_EXHAUSTED naming the limit', async () => {
  const limits = { maxInFlight: 32, maxOutbox: 64, dedupWindow: 128 };
  const log = captureLogger();
  const { server, port } = await startTestServer(p, {
    limits,
    logger: log.logger,
    keepalive: { timeMs: 60_000, timeoutMs: 60_000 },
  });
  track(server);
  // Bulky error acks fill the unread direction quickly, as a slow reader would in production.
  server.handle('noop', z.unknown(), () => {
    throw new Error('e'.repeat(4000));
  });
  const proxy = new FaultInjector(port);
  cleanups.push(() => proxy.close());
  const { call, client } = rawCall(await proxy.start(), rawCredentials(p.clientTls));
  cleanups.push(() => client.close());
  const status = new Promise<grpc.StatusObject>((resolve) => {
    call.on('data', () => {});
    call.on('error', () => {});
    call.on('status', resolve);
  });
  call.write(
    encodeEnvelope({
      frames: [{ hello: { protocolVersion: 1, capabilities: [], identity: CLIENT_ID, sessionId: 'deaf' } }],
    }),
  );
  await eventually(() => server.stats().some((s) => s.sessionId === 'deaf'), 5000, 'session');
  proxy.setBlackhole(true, 'down'); // the client reads nothing the server sends from now on
  for (let i = 0; i < 100 && !/not reading/.test(log.text()); i++) {
    // Within the window: 32 small commands per envelope, each answered at once; only the unread acks pile up.
    const frames = Array.from({ length: 32 }, (_, k) => ({
      command: { id: `${i}.${k}`, opcode: 'noop', payload: Buffer.from('1') },
    }));
    call.write(encodeEnvelope({ frames }));
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(log.text()).toMatch(
    /refused stream: peer is not reading its stream: 257 frames waiting to be written, limit 256 \(4 x maxOutbox\)/,
  );
  expect(server.stats().find((s) => s.sessionId === 'deaf')?.attached).toBe(false);
  proxy.setBlackhole(false, 'down');
  const s = await status;
  expect(s.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  expect(s.details).toMatch(/peer is not reading its stream/);
}, 60_000);
