// Bounded memory: when a peer stops reading, every queue stays within its limit, sends either wait
// or fail fast by option, and notifications are dropped (and counted) rather than piled up.
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { FaultInjector } from './fault-injector.js';
import { OutboxFullError, TimeoutError } from './index.js';
import {
  bindFakeServer,
  CLIENT_ID,
  eventually,
  rawCall,
  rawCredentials,
  startTestClient,
  startTestServer,
} from './testing.js';
import { controlTestkit } from './testkit.js';
import { controlService, encodeEnvelope } from './wire.js';
import type { Envelope, Envelope__Output } from './wire.js';

// The black-holed peer must not be declared dead by keepalive during these tests: it is slow, not gone.
const SLOW_KEEPALIVE = { timeMs: 60_000, timeoutMs: 60_000 };
const { p, cleanups, track } = controlTestkit();

/** A raw client session (hello sent, nothing else) through a fault proxy, so a test can stop one direction. */
async function rawSessionViaProxy(port: number, sessionId: string) {
  const proxy = new FaultInjector(port);
  cleanups.push(() => proxy.close());
  const { call, client } = rawCall(await proxy.start(), rawCredentials(p.clientTls));
  cleanups.push(() => client.close());
  call.on('error', () => {});
  call.write(
    encodeEnvelope({
      frames: [{ hello: { protocolVersion: 1, capabilities: [], identity: CLIENT_ID, sessionId } }],
    }),
  );
  return { proxy, call };
}

/** A server that says hello and then never reads again. */
async function deafServer(): Promise<number> {
  const fake = new grpc.Server();
  fake.addService(controlService, {
    Connect: (call: grpc.ServerDuplexStream<Envelope__Output, Envelope>) => {
      call.on('error', () => {});
      call.once('data', (env: Envelope__Output) => {
        call.pause();
        const sessionId = env.frames[0]?.hello?.sessionId ?? 's';
        call.write({
          frames: [
            { hello: { protocolVersion: 1, capabilities: [], identity: 'deaf', sessionId, resumed: false } },
          ],
        });
      });
    },
  });
  const port = await bindFakeServer(p, fake);
  cleanups.push(() => fake.forceShutdown());
  return port;
}

it('fails fast with OutboxFullError when the server stops reading, keeping the outbox and in-flight bounded', async () => {
  const port = await deafServer();
  const client = track(
    startTestClient(p, port, { onFull: 'fail', limits: { maxOutbox: 256, maxInFlight: 64 } }),
  );
  await eventually(() => client.state === 'ready', 5000, 'ready');
  const outcomes = await Promise.all(
    Array.from({ length: 5000 }, (_, n) =>
      client
        .sendAndWaitForAck('fill', { n, pad: 'x'.repeat(512) }, { timeoutMs: 2000 })
        .catch((e: unknown) => e),
    ),
  );
  const full = outcomes.filter((o) => o instanceof OutboxFullError).length;
  expect(full).toBe(5000 - 256);
  expect((outcomes.find((o) => o instanceof OutboxFullError) as Error).message).toMatch(
    /outbox full: 256 unacked/,
  );
  expect(client.stats().outbox).toBe(256);
  expect(client.stats().inFlight).toBeLessThanOrEqual(64);
  // The 256 accepted ones time out (still queued), since nobody acks.
  expect(outcomes.filter((o) => o instanceof TimeoutError)).toHaveLength(256);
  expect(client.stats().outbox).toBe(256);
});

it('makes senders wait for room (back-pressure) when asked to, and times them out cleanly', async () => {
  const port = await deafServer();
  const client = track(
    startTestClient(p, port, { onFull: 'wait', limits: { maxOutbox: 32, maxInFlight: 8 } }),
  );
  const outcomes = await Promise.all(
    Array.from({ length: 200 }, (_, n) =>
      client.sendAndWaitForAck('fill', { n }, { timeoutMs: 300 }).catch((e: unknown) => e),
    ),
  );
  expect(outcomes.every((o) => o instanceof TimeoutError)).toBe(true);
  expect(outcomes.filter((o) => /outbox still full/.test((o as Error).message))).toHaveLength(200 - 32);
  expect(client.stats().outbox).toBe(32);
  expect(client.stats().inFlight).toBeLessThanOrEqual(8);
});

it('drops notifications for a client that stops reading, instead of buffering them', async () => {
  const registry = new Registry();
  const { server, port } = await startTestServer(p, { metrics: registry, keepalive: SLOW_KEEPALIVE });
  track(server);
  const { proxy } = await rawSessionViaProxy(port, 'deaf-client');
  await eventually(() => server.stats().some((s) => s.attached), 5000, 'session');
  proxy.setBlackhole(true, 'down'); // the client no longer reads anything the server sends
  // Measure what is retained, not garbage: the test runner starts node with --expose-gc.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  let queued = 0;
  const payload = { blob: 'y'.repeat(4096) };
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 500; i++) queued += server.publish('tick', payload);
    await new Promise((r) => setTimeout(r, 5));
  }
  const stats = server.stats()[0]!;
  expect(stats.backlog).toBeLessThanOrEqual(8192);
  expect(queued).toBeLessThan(20_000);
  const dropped =
    (await registry.getSingleMetric('control_notifications_dropped_total')!.get()).values[0]?.value ?? 0;
  expect(dropped).toBe(20_000 - queued);
  // 20,000 x 4 KiB = 80 MiB offered; what stays buffered is a small fraction of it.
  gc?.();
  expect(process.memoryUsage().heapUsed - before).toBeLessThan(60 * 1024 * 1024);
});

it('stops reading from a client that floods commands without reading acks, and keeps serving others', async () => {
  const limits = { maxInFlight: 32, maxOutbox: 64, dedupWindow: 128, maxMessageBytes: 64 * 1024 };
  const { server, port } = await startTestServer(p, { limits, keepalive: SLOW_KEEPALIVE });
  track(server);
  let runs = 0;
  // Bulky error acks fill the unread direction quickly, as a slow reader would in production.
  server.handle('noop', z.unknown(), () => {
    if (++runs > 0) throw new Error('e'.repeat(4000));
  });
  const { proxy, call } = await rawSessionViaProxy(port, 'flood');
  await eventually(() => server.stats().some((s) => s.sessionId === 'flood'), 5000, 'session');
  proxy.setBlackhole(true, 'down'); // never read the acks
  let written = 0;
  let stalled = false;
  for (let i = 0; i < 400 && !stalled; i++) {
    const frames = Array.from({ length: 100 }, (_, k) => ({
      command: {
        id: `f${i}-${k}`,
        opcode: 'noop',
        payload: Buffer.from('{"pad":"' + 'z'.repeat(200) + '"}'),
      },
    }));
    written += 100;
    if (!call.write(encodeEnvelope({ frames }))) {
      // No drain within a second: the server stopped reading us (HTTP/2 flow control holds the rest).
      stalled = !(await Promise.race([
        new Promise<boolean>((r) => call.once('drain', () => r(true))),
        new Promise<boolean>((r) => setTimeout(() => r(false), 1000)),
      ]));
    }
  }
  console.log(`flood: wrote ${written}, handled ${runs}, stalled ${stalled}`);
  expect(stalled).toBe(true);
  const flood = server.stats().find((s) => s.sessionId === 'flood')!;
  expect(flood.backlog).toBeLessThanOrEqual(256 + 100);
  expect(flood.inbound).toBeLessThanOrEqual(32 * 4 + 100);
  expect(flood.dedup).toBeLessThanOrEqual(128);
  expect(runs).toBeLessThan(written);
  const good = track(startTestClient(p, port, { limits }));
  await expect(good.sendAndWaitForAck('noop', {})).rejects.toMatchObject({ code: 'HandlerError' });
}, 30_000);
