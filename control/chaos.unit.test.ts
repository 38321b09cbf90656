// At-least-once under fire: 10,000 commands through a fault injector that cuts the TCP connection at
// random moments in both directions. None lost, no handler run twice, order kept; async results
// arrive exactly once at the caller. Also: keepalive notices a black-holed peer within seconds.
import { Registry } from 'prom-client';
import { z } from 'zod';
import { FaultInjector } from './fault-injector.js';
import { captureLogger, eventually, startTestClient, startTestServer } from './testing.js';
import { controlTestkit } from './testkit.js';

const { p, track } = controlTestkit();

it('delivers 10,000 commands exactly once each, in order, while connections are cut at random', async () => {
  const registry = new Registry();
  const keepalive = { timeMs: 500, timeoutMs: 1000 };
  const { server, port } = await startTestServer(p, { metrics: registry, keepalive });
  track(server);
  const handled: number[] = [];
  const counts = new Map<number, number>();
  const run = async (n: number): Promise<void> => {
    counts.set(n, (counts.get(n) ?? 0) + 1);
    handled.push(n);
    // Now and then yield, so cuts also land while a handler is in progress.
    if (n % 97 === 0) await new Promise((r) => setImmediate(r));
  };
  server.handle('step', z.object({ n: z.number() }), (x) => run(x.n));
  server.handleAsync('apply', z.object({ n: z.number() }), async (x, ctx) => {
    await run(x.n);
    ctx.notifySuccess({ n: x.n });
  });

  const proxy = track(new FaultInjector(port));
  const proxyPort = await proxy.start();
  // Byte-count cuts guarantee progress between cuts even on a slow, shared machine; timed cuts add randomness.
  proxy.setChaos({ cutAfterBytes: [10_000, 200_000], cutEveryMs: [60, 300], maxCuts: 20 });
  const log = captureLogger();
  const client = track(
    startTestClient(p, proxyPort, {
      backoff: { initialMs: 5, maxMs: 50 },
      limits: { maxInFlight: 128 },
      logger: log.logger,
      metrics: registry,
    }),
  );
  const results = new Map<string, number>();
  client.onResult((r) => results.set(r.commandId, (results.get(r.commandId) ?? 0) + 1));

  const total = 10_000;
  const acks = Array.from({ length: total }, (_, n) =>
    client.sendAndWaitForAck(n % 10 === 0 ? 'apply' : 'step', { n }, { id: `c${n}`, timeoutMs: 0 }),
  );
  await Promise.all(acks);
  proxy.setChaos({});
  await eventually(() => results.size === total / 10, 10_000, 'all async results');

  // Plain commands run in sending order; async work runs after its ack, in order among async commands.
  const all = Array.from({ length: total }, (_, n) => n);
  expect(handled.filter((n) => n % 10 !== 0)).toEqual(all.filter((n) => n % 10 !== 0));
  expect(handled.filter((n) => n % 10 === 0)).toEqual(all.filter((n) => n % 10 === 0));
  expect(handled).toHaveLength(total); // nothing lost, nothing twice
  expect([...counts.values()].every((c) => c === 1)).toBe(true);
  expect([...results.values()].every((c) => c === 1)).toBe(true);
  expect(proxy.cuts).toBeGreaterThanOrEqual(5);
  const metric = async (name: string, role: string) =>
    (await registry.getSingleMetric(name)!.get()).values.find((v) => v.labels['role'] === role)?.value ?? 0;
  // The faults really forced resends, and the server really answered duplicates from its window.
  expect(await metric('control_messages_resent_total', 'client')).toBeGreaterThan(0);
  expect(await metric('control_duplicates_total', 'server')).toBeGreaterThan(0);
  console.log(
    `chaos: ${proxy.cuts} cuts, ${await metric('control_messages_resent_total', 'client')} resent, ` +
      `${await metric('control_duplicates_total', 'server')} duplicates answered from the window`,
  );
  // A timed cut may land after the last ack; the client must still come back after every cut.
  await eventually(() => proxy.connections > proxy.cuts, 10_000, 'a reconnect after the last cut');
  // The server resumed one session throughout: its dedup window answered the resends.
  expect(server.stats()).toHaveLength(1);
  expect(client.stats()).toMatchObject({ outbox: 0, inFlight: 0 });
  expect(log.text()).toMatch(/stream lost/);
}, 60_000);

it('notices a black-holed peer through keepalive within seconds, and reconnects when it is back', async () => {
  const { server, port } = await startTestServer(p, { keepalive: { timeMs: 500, timeoutMs: 500 } });
  track(server);
  server.handle('noop', z.unknown(), () => {});
  const proxy = track(new FaultInjector(port));
  const proxyPort = await proxy.start();
  const client = track(startTestClient(p, proxyPort, { keepalive: { timeMs: 500, timeoutMs: 500 } }));
  await client.sendAndWaitForAck('noop', {});
  const lost = new Promise<number>((resolve) => {
    const t0 = Date.now();
    client.onStateChange((s) => s === 'disconnected' && resolve(Date.now() - t0));
  });
  proxy.setBlackhole(true);
  const detectedAfter = await lost;
  expect(detectedAfter).toBeLessThan(3_000);
  proxy.setBlackhole(false);
  proxy.cutAll();
  await client.sendAndWaitForAck('noop', {}, { timeoutMs: 10_000 });
}, 20_000);
