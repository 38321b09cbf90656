// Protocol semantics over real mTLS on loopback: acks, rejections, handler errors, unknown opcodes,
// ordering, pipelining, timeouts, aborts, async results, notifications, several clients, restarts.
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { z } from 'zod';
import {
  AbortError,
  ClosedError,
  CommandRejectedError,
  MessageTooLargeError,
  NotificationStore,
  TimeoutError,
  newCommandId,
} from './index.js';
import type { CommandResult, ControlServer, Notification } from './index.js';
import {
  bindFakeServer,
  callStatus,
  captureLogger,
  eventually,
  rawCall,
  rawCredentials,
  startTestClient,
  startTestServer,
} from './testing.js';
import { controlTestkit } from './testkit.js';
import { ManualClock } from './clock.js';
import { controlService, encodeEnvelope } from './wire.js';
import type { Envelope, Envelope__Output } from './wire.js';

const { p, cleanups, track } = controlTestkit();

const num = z.object({ n: z.number().int() });

async function pair(setup: (s: ControlServer) => void = () => {}, clientOpts = {}) {
  const { server, port } = await startTestServer(p);
  track(server);
  setup(server);
  const client = track(startTestClient(p, port, clientOpts));
  return { server, port, client };
}

describe('commands and acks', () => {
  it('acks a command after its handler ran, with the parsed payload', async () => {
    const seen: Array<{ n: number }> = [];
    const { client } = await pair((s) => s.handle('add', num, (x) => void seen.push(x)));
    const ack = await client.sendAndWaitForAck('add', { n: 7 }, { id: 'cmd-1' });
    expect(ack).toEqual({ commandId: 'cmd-1' });
    expect(seen).toEqual([{ n: 7 }]);
  });

  it('handles pipelined commands in the order sent, within the in-flight limit', async () => {
    const seen: number[] = [];
    let running = 0;
    let maxRunning = 0;
    const { client } = await pair(
      (s) =>
        s.handle('add', num, async (x) => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          if (x.n % 50 === 0) await new Promise((r) => setTimeout(r, 1));
          seen.push(x.n);
          running--;
        }),
      { limits: { maxInFlight: 16 } },
    );
    let maxInFlight = 0;
    const sends = Array.from({ length: 2000 }, (_, n) => client.sendAndWaitForAck('add', { n }));
    const probe = setInterval(() => (maxInFlight = Math.max(maxInFlight, client.stats().inFlight)), 1);
    await Promise.all(sends);
    clearInterval(probe);
    expect(seen).toEqual(Array.from({ length: 2000 }, (_, n) => n));
    expect(maxRunning).toBe(1); // one at a time per session: order of effects is kept
    expect(maxInFlight).toBeLessThanOrEqual(16);
    expect(client.stats()).toMatchObject({ outbox: 0, inFlight: 0 });
  });

  it('turns a rejection into CommandRejectedError with the handler code', async () => {
    const { client } = await pair((s) =>
      s.handle('set', num, (x) => {
        throw new CommandRejectedError('Superseded', `generation ${x.n} is older than 5`);
      }),
    );
    const err = await client.sendAndWaitForAck('set', { n: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandRejectedError);
    expect(err).toMatchObject({ code: 'Superseded', message: 'generation 3 is older than 5' });
  });

  it('turns a throwing handler into an error ack and keeps serving', async () => {
    const { client } = await pair((s) => {
      s.handle('boom', z.unknown(), async () => {
        throw new Error('disk on fire');
      });
      s.handle('ok', z.unknown(), () => {});
    });
    await expect(client.sendAndWaitForAck('boom', {})).rejects.toMatchObject({
      code: 'HandlerError',
      message: 'disk on fire',
    });
    await expect(client.sendAndWaitForAck('ok', {})).resolves.toBeDefined();
  });

  it('rejects an unknown opcode and a payload failing its schema, without running a handler', async () => {
    let runs = 0;
    const { client } = await pair((s) => s.handle('add', num, () => void runs++));
    await expect(client.sendAndWaitForAck('teleport', {})).rejects.toMatchObject({ code: 'Unimplemented' });
    const bad = await client.sendAndWaitForAck('add', { n: 'seven' }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(CommandRejectedError);
    expect(bad).toMatchObject({ code: 'InvalidArgument' });
    expect((bad as Error).message).toMatch(/n/);
    expect(runs).toBe(0);
  });

  it('answers a repeated command id with the original ack without running the handler again', async () => {
    let runs = 0;
    const { client } = await pair((s) =>
      s.handle('once', num, (x) => {
        runs++;
        if (x.n < 0) throw new CommandRejectedError('OutOfRange', 'negative');
      }),
    );
    await client.sendAndWaitForAck('once', { n: 1 }, { id: 'same' });
    await client.sendAndWaitForAck('once', { n: 1 }, { id: 'same' });
    await expect(client.sendAndWaitForAck('once', { n: -1 }, { id: 'neg' })).rejects.toMatchObject({
      code: 'OutOfRange',
    });
    await expect(client.sendAndWaitForAck('once', { n: -1 }, { id: 'neg' })).rejects.toMatchObject({
      code: 'OutOfRange',
    });
    expect(runs).toBe(2);
  });

  it('times out without dropping the command, and delivers it later', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: number[] = [];
    // The ack deadline runs on virtual time: it passes when the test says, not when a busy machine does.
    const clock = new ManualClock();
    const { client } = await pair(
      (s) =>
        s.handle('slow', num, async (x) => {
          if (x.n === 1) await gate;
          seen.push(x.n);
        }),
      { clock },
    );
    const first = client.sendAndWaitForAck('slow', { n: 1 }, { timeoutMs: 0 });
    const timingOut = client.sendAndWaitForAck('slow', { n: 2 }, { timeoutMs: 50 }).catch((e: unknown) => e);
    await clock.advance(50);
    const second = await timingOut;
    expect(second).toBeInstanceOf(TimeoutError);
    release();
    await first;
    await eventually(() => seen.length === 2, 5000, 'the timed-out command to run');
    expect(seen).toEqual([1, 2]);
  });

  it('aborts: an aborted command is never sent, and an abort while waiting rejects at once', async () => {
    const seen: number[] = [];
    const { server, port } = await startTestServer(p);
    track(server);
    server.handle('add', num, (x) => void seen.push(x.n));
    const { ControlClient } = await import('./client.js');
    const { CLIENT_ID, SERVER_ID } = await import('./testing.js');
    // Not started yet: the command waits in the outbox.
    const client = track(
      new ControlClient({
        target: `127.0.0.1:${port}`,
        tls: p.clientTls,
        identity: CLIENT_ID,
        expectedServerIdentity: SERVER_ID,
      }),
    );
    const ac = new AbortController();
    const aborted = client.sendAndWaitForAck('add', { n: 1 }, { signal: ac.signal });
    ac.abort();
    await expect(aborted).rejects.toBeInstanceOf(AbortError);
    await expect(
      client.sendAndWaitForAck('add', { n: 9 }, { signal: AbortSignal.abort() }),
    ).rejects.toBeInstanceOf(AbortError);
    client.start();
    await client.sendAndWaitForAck('add', { n: 2 });
    expect(seen).toEqual([2]);
  });

  it('refuses a command larger than the frame limit before sending it, and keeps the stream', async () => {
    const { client } = await pair((s) => s.handle('blob', z.object({ s: z.string() }), () => {}), {
      limits: { maxMessageBytes: 64 * 1024 },
    });
    await expect(client.sendAndWaitForAck('blob', { s: 'x'.repeat(70 * 1024) })).rejects.toBeInstanceOf(
      MessageTooLargeError,
    );
    await expect(client.sendAndWaitForAck('blob', { s: 'x'.repeat(1024) })).resolves.toBeDefined();
  });

  it('fails pending sends with ClosedError on close', async () => {
    const { client } = await pair((s) => s.handle('hang', z.unknown(), () => new Promise(() => {})));
    const pending = client.sendAndWaitForAck('hang', {});
    await eventually(() => client.stats().inFlight === 1);
    await client.close();
    await expect(pending).rejects.toBeInstanceOf(ClosedError);
  });

  it('counts sent, acked, rejected and round-trip time in the registry passed in', async () => {
    const registry = new Registry();
    const { server, port } = await startTestServer(p, { metrics: registry });
    track(server);
    server.handle('ok', z.unknown(), () => {});
    const client = track(startTestClient(p, port, { metrics: registry }));
    await client.sendAndWaitForAck('ok', {});
    await client.sendAndWaitForAck('nope', {}).catch(() => {});
    const text = await registry.metrics();
    expect(text).toMatch(/control_messages_sent_total\{role="client"\} 2/);
    expect(text).toMatch(/control_messages_acked_total\{role="client"\} 1/);
    expect(text).toMatch(/control_messages_rejected_total\{role="client"\} 1/);
    expect(text).toMatch(/control_ack_round_trip_seconds_count\{role="client"\} 2/);
  });
});

describe('async commands', () => {
  it('acks at once, then delivers the result; the notification store tracks pending -> succeeded/failed', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { client } = await pair((s) =>
      s.handleAsync('apply', num, async (x, ctx) => {
        await gate;
        if (x.n < 0) ctx.notifyFailure('Invalid', `n=${x.n}`);
        else if (x.n === 13) throw new Error('unlucky');
        else ctx.notifySuccess({ applied: x.n });
      }),
    );
    const changed: string[] = [];
    const store = new NotificationStore({ onChange: (key) => changed.push(key) });
    client.onResult((r) => store.record('default/demo', 'pod-a', r));

    const ids = [newCommandId(), newCommandId(), newCommandId()];
    ids.forEach((id) => store.pending('default/demo', 'pod-a', id));
    // Acked before the work finished: the gate is still closed.
    await client.sendAndWaitForAck('apply', { n: 4 }, { id: ids[0] });
    await client.sendAndWaitForAck('apply', { n: -1 }, { id: ids[1] });
    await client.sendAndWaitForAck('apply', { n: 13 }, { id: ids[2] });
    expect(store.get('default/demo', 'pod-a', ids[0]!)).toEqual({ state: 'pending' });
    release();
    await eventually(() => changed.length === 3, 5000, 'three results');
    expect(changed).toEqual(['default/demo', 'default/demo', 'default/demo']);
    expect(store.get('default/demo', 'pod-a', ids[0]!)).toEqual({
      state: 'succeeded',
      detail: { applied: 4 },
    });
    expect(store.get('default/demo', 'pod-a', ids[1]!)).toEqual({
      state: 'failed',
      reason: 'Invalid',
      message: 'n=-1',
    });
    expect(store.get('default/demo', 'pod-a', ids[2]!)).toEqual({
      state: 'failed',
      reason: 'HandlerError',
      message: 'unlucky',
    });
  });

  it('rejects an async command whose payload fails its schema, and sends no result', async () => {
    let runs = 0;
    const results: CommandResult[] = [];
    const { client } = await pair((s) => s.handleAsync('apply', num, () => void runs++));
    client.onResult((r) => results.push(r));
    await expect(client.sendAndWaitForAck('apply', { n: 1.5 })).rejects.toMatchObject({
      code: 'InvalidArgument',
    });
    await client.sendAndWaitForAck('apply', { n: 1 });
    await eventually(() => results.length === 1);
    expect(runs).toBe(1);
    expect(results[0]).toMatchObject({ opcode: 'apply', succeeded: true });
  });
});

describe('notifications and sessions', () => {
  it('publishes CloudEvent notifications to every open stream of several clients', async () => {
    const opened: string[] = [];
    const { server, port } = await startTestServer(p);
    track(server);
    server.onSessionOpen((info) => {
      opened.push(info.identity);
      info.notify('state.full', { paused: false });
    });
    const a = track(startTestClient(p, port));
    const b = track(startTestClient(p, port));
    const got: Array<[string, Notification]> = [];
    a.onNotification((n) => got.push(['a', n]));
    b.onNotification((n) => got.push(['b', n]));
    await eventually(() => got.length === 2, 5000, 'full-state notifications');
    expect(server.publish('interval.changed', { seconds: 5 })).toBe(2);
    await eventually(() => got.length === 4, 5000, 'published notifications');
    const published = got.filter(([, n]) => n.type === 'interval.changed');
    expect(published.map(([who]) => who).sort()).toEqual(['a', 'b']);
    expect(published[0]![1].data).toEqual({ seconds: 5 });
    expect(Math.abs(published[0]![1].time.getTime() - Date.now())).toBeLessThan(5000);
    expect(opened).toHaveLength(2);
    expect(server.stats()).toHaveLength(2);
  });

  it('keeps commands queued while the server is down and delivers them after a restart on the same port', async () => {
    const seen: number[] = [];
    const first = await startTestServer(p);
    const port = first.port;
    first.server.handle('add', num, (x) => void seen.push(x.n));
    const client = track(startTestClient(p, port));
    await client.sendAndWaitForAck('add', { n: 1 });
    await first.server.close(100);
    await eventually(() => client.state !== 'ready', 5000, 'client to notice');
    const pending = [2, 3, 4].map((n) => client.sendAndWaitForAck('add', { n }, { timeoutMs: 0 }));
    const { server } = await startTestServer(p, { address: `127.0.0.1:${port}` });
    track(server);
    server.handle('add', num, (x) => void seen.push(x.n));
    await Promise.all(pending);
    expect(seen).toEqual([1, 2, 3, 4]);
  });
});

describe('hello', () => {
  it('refuses another protocol version with a clear error on both sides', async () => {
    const log = captureLogger();
    const { server, port } = await startTestServer(p, { logger: log.logger });
    track(server);
    const { call, client } = rawCall(port, rawCredentials(p.clientTls));
    const status = callStatus(call);
    call.write(
      encodeEnvelope({
        frames: [{ hello: { protocolVersion: 99, capabilities: [], identity: 'x', sessionId: 's1' } }],
      }),
    );
    const s = await status;
    client.close();
    expect(s.details).toMatch(/protocol version mismatch: peer speaks 99, we speak 1/);
    expect(log.text()).toMatch(/refused stream: protocol version mismatch/);
  });

  it('refuses a capability mismatch, whichever side requires it', async () => {
    const serverLog = captureLogger();
    const { server, port } = await startTestServer(p, {
      logger: serverLog.logger,
      requiredCapabilities: ['teleport'],
    });
    track(server);
    const client = track(startTestClient(p, port));
    await eventually(
      () => /capability mismatch/.test(client.lastConnectionError),
      5000,
      'client to see the refusal',
    );
    expect(client.lastConnectionError).toMatch(
      /FAILED_PRECONDITION: capability mismatch: peer lacks required capabilities teleport/,
    );
    expect(serverLog.text()).toMatch(/refused stream: capability mismatch/);

    const { server: s2, port: port2 } = await startTestServer(p);
    track(s2);
    const clientLog = captureLogger();
    const c2 = track(
      startTestClient(p, port2, { logger: clientLog.logger, requiredCapabilities: ['teleport'] }),
    );
    await eventually(() => /capability mismatch/.test(clientLog.text()), 5000, 'client-side refusal');
    expect(clientLog.text()).toMatch(
      /refused by server: capability mismatch: peer requires capabilities we lack: teleport/,
    );
    expect(c2.state).not.toBe('ready');
  });

  it('the client refuses a server that answers with another version', async () => {
    const fake = new grpc.Server();
    fake.addService(controlService, {
      Connect: (call: grpc.ServerDuplexStream<Envelope__Output, Envelope>) => {
        call.on('error', () => {});
        call.on('data', () =>
          call.write({
            frames: [
              {
                hello: {
                  protocolVersion: 2,
                  capabilities: [],
                  identity: 'fake',
                  sessionId: 's',
                  resumed: false,
                },
              },
            ],
          }),
        );
      },
    });
    const port = await bindFakeServer(p, fake);
    cleanups.push(async () => void fake.forceShutdown());
    const clientLog = captureLogger();
    const client = track(startTestClient(p, port, { logger: clientLog.logger }));
    await eventually(() => /refused server/.test(clientLog.text()), 5000, 'client-side refusal');
    expect(clientLog.text()).toMatch(/refused server: protocol version mismatch: peer speaks 2, we speak 1/);
    expect(client.state).not.toBe('ready');
  });
});
