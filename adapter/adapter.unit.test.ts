// The adapter in-process, steered through a real mTLS control stream by a real ControlClient,
// sending to a real HTTP sink that parses every event with the CloudEvents SDK.
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { CommandRejectedError } from '../control/index.js';
import {
  OP_APPLY_STATE,
  OP_PAUSE,
  OP_RESUME,
  OP_SET_INTERVAL,
  type AdapterState,
} from '../contract/commands.js';
import { heartbeatSource } from '../contract/cloudevents.js';
import { startAdapter, type RunningAdapter } from './adapter.js';
import { loadConfig } from './config.js';
import { DevSink } from './dev-sink.js';
import type { HeartbeatData } from './heartbeat.js';
import { Steering, issueCerts, loopbackAdapterEnv, type IssuedCerts } from './testkit.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seq = (r: { event?: { data?: unknown } }) => (r.event!.data as HeartbeatData).sequence;

describe('adapter steered live over mTLS', () => {
  let dir: string;
  let certs: IssuedCerts;
  let sink: DevSink;
  let adapter: RunningAdapter;
  let steer: Steering;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adapter-test-'));
    certs = await issueCerts(dir, 'demo', 'beat');
    await mkdir(join(dir, 'original'));
    for (const f of ['ca.crt', 'tls.crt', 'tls.key'])
      await copyFile(join(certs.adapterTlsDir, f), join(dir, 'original', f));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  beforeEach(async () => {
    sink = new DevSink();
    const url = await sink.start();
    const config = loadConfig(
      loopbackAdapterEnv(
        { sink: url, namespace: 'demo', name: 'beat', tlsDir: certs.adapterTlsDir, interval: '200ms' },
        { K_CE_OVERRIDES: '{"extensions":{"team":"blue"}}', SINK_RETRIES: '1', SHUTDOWN_TIMEOUT: '500ms' },
      ),
    );
    adapter = await startAdapter(config, pino({ level: 'silent' }), {
      publishGapMs: 100,
      defaultMetrics: false,
      retryInitialDelayMs: 20,
    });
    steer = Steering.of(adapter.controlPort, certs);
  });

  afterEach(async () => {
    await steer.close();
    await adapter.close();
    await sink.close();
  });

  it('reports its full state when the stream opens and runs from the environment before any command', async () => {
    const first = await steer.waitForState(() => true, 'first AdapterState');
    expect(first).toMatchObject({
      podName: 'beat-0',
      interval: '200ms',
      intervalMs: 200,
      paused: false,
      generation: 0,
    });
    await sink.waitForAccepted(3);
    const events = sink.accepted.map((r) => r.event!);
    for (const e of events) {
      expect(e).toMatchObject({
        type: 'dev.knative.sample',
        source: heartbeatSource('demo', 'beat'),
        team: 'blue',
        datacontenttype: 'application/json',
      });
      expect(e.data).toMatchObject({ interval: '200ms', intervalMs: 200, podName: 'beat-0' });
    }
    // Starts at 1 and only increases (a tick dropped because a loaded machine kept two sends busy leaves a gap).
    const sequences = events.map((e) => (e.data as HeartbeatData).sequence);
    expect(sequences[0]).toBe(1);
    expect(sequences.every((n, i) => i === 0 || n > sequences[i - 1]!)).toBe(true);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    // Counter-only changes are published too (rate-limited).
    await steer.waitForState((s) => s.eventsSent >= 2, 'counters in a notification');
  });

  it('changes the interval live: acked, applied, reported, and the sink sees the new cadence without a burst', async () => {
    await sink.waitForAccepted(2);
    const result = await steer.run(OP_SET_INTERVAL, { generation: 1, interval: '500ms' });
    expect(result).toMatchObject({
      opcode: OP_SET_INTERVAL,
      succeeded: true,
      detail: { interval: '500ms', intervalMs: 500, generation: 1 },
    });
    await steer.waitForState(
      (s) => s.generation === 1 && s.intervalMs === 500,
      'state with the new interval',
    );
    const from = sink.accepted.length;
    await sink.waitUntil(() => sink.accepted.length >= from + 4, 'four events at the new interval', 5_000);
    const recent = sink.accepted.slice(from - 1);
    const gaps = recent.slice(1).map((r, i) => r.arrivedAt - recent[i]!.arrivedAt);
    // Steady state at the new interval (median: robust to a loaded machine's stragglers).
    const steady = gaps.slice(1).sort((a, b) => a - b);
    expect(Math.abs(steady[Math.floor(steady.length / 2)]! - 500)).toBeLessThan(60);
    // The switch itself: no burst (a burst would show as a gap near 0).
    expect(gaps[0]).toBeGreaterThan(100);
    for (const r of sink.accepted.slice(from)) expect(r.event!.data).toMatchObject({ interval: '500ms' });
    const all = sink.accepted.map(seq);
    expect(all.every((n, i) => i === 0 || n > all[i - 1]!)).toBe(true);
  });

  it('pauses within a tick and resumes at the current interval', async () => {
    await sink.waitForAccepted(1);
    const paused = await steer.run(OP_PAUSE, { generation: 2 });
    expect(paused).toMatchObject({ succeeded: true, detail: { paused: true, generation: 2 } });
    await sleep(1_000); // let a send already in flight land (sends are slow on a loaded machine)
    const n = sink.requests.length;
    await sleep(600);
    expect(sink.requests.length).toBe(n);
    expect(adapter.store.snapshot()).toMatchObject({ paused: true, generation: 2 });

    const resumed = await steer.run(OP_RESUME, { generation: 3 });
    expect(resumed).toMatchObject({
      succeeded: true,
      detail: { paused: false, generation: 3, intervalMs: 200 },
    });
    await sink.waitUntil((r) => r.length >= n + 2, 'heartbeats after resume', 3_000);
    await steer.waitForState((s) => !s.paused && s.generation === 3, 'resumed state');
  });

  it('hands its sequence over: a pause reports the last sequence used, and a sequence floor numbers the next heartbeat above it', async () => {
    await sink.waitForAccepted(2);
    const paused = await steer.run(OP_APPLY_STATE, { generation: 2, interval: '200ms', paused: true });
    expect(paused.succeeded).toBe(true);
    const last = (paused.detail as AdapterState).lastSequence!;
    expect(last).toBeGreaterThanOrEqual(2);
    await sleep(600); // a send in flight at the pause lands; nothing is numbered after it
    expect(Math.max(...sink.requests.filter((r) => r.event).map(seq))).toBeLessThanOrEqual(last);
    // Another emitter (the pool) went on to 100: the adapter continues at 101, not at last + 1.
    const n = sink.requests.length;
    const resumed = await steer.run(OP_APPLY_STATE, {
      generation: 3,
      interval: '200ms',
      paused: false,
      sequenceFloor: 100,
    });
    expect(resumed.succeeded).toBe(true);
    await sink.waitUntil((r) => r.length >= n + 2, 'heartbeats after the floor', 5_000);
    expect(sink.requests.slice(n).map(seq)[0]).toBe(101);
    // A floor below the sequence in force changes nothing (it never goes back).
    await steer.run(OP_APPLY_STATE, { generation: 4, interval: '200ms', paused: false, sequenceFloor: 5 });
    expect(adapter.store.snapshot().lastSequence).toBeGreaterThan(101);
  });

  it('reports commands of an older generation as superseded and applies nothing', async () => {
    await steer.run(OP_APPLY_STATE, { generation: 5, interval: '300ms', paused: false });
    const stale = await steer.run(OP_SET_INTERVAL, { generation: 4, interval: '100ms' });
    expect(stale).toMatchObject({ succeeded: false, reason: 'Superseded' });
    expect(stale.message).toMatch(/generation 4 is older than generation 5/);
    const stalePause = await steer.run(OP_PAUSE, { generation: 1 });
    expect(stalePause).toMatchObject({ succeeded: false, reason: 'Superseded' });
    expect(adapter.store.snapshot()).toMatchObject({ generation: 5, intervalMs: 300, paused: false });
    // The same generation again is an idempotent success.
    const again = await steer.run(OP_APPLY_STATE, { generation: 5, interval: '300ms', paused: false });
    expect(again).toMatchObject({ succeeded: true, detail: { generation: 5, intervalMs: 300 } });
  });

  it('rejects invalid values with a clear error ack and changes nothing', async () => {
    await steer.waitForState(() => true);
    const before: AdapterState = adapter.store.snapshot();
    const reject = (payload: unknown, opcode = OP_SET_INTERVAL) =>
      steer.send(opcode, payload).then(
        () => {
          throw new Error('expected a rejection');
        },
        (err: unknown) => err as CommandRejectedError,
      );
    const tooFast = await reject({ generation: 9, interval: '50ms' });
    expect(tooFast).toBeInstanceOf(CommandRejectedError);
    expect(tooFast.code).toBe('InvalidArgument');
    expect(tooFast.message).toMatch(/interval "50ms" is below the minimum 100ms/);
    const garbage = await reject({ generation: 9, interval: 'fast' });
    expect(garbage.code).toBe('InvalidArgument');
    expect(garbage.message).toMatch(/invalid duration "fast"/);
    const noGeneration = await reject({ interval: '1s' });
    expect(noGeneration.code).toBe('InvalidArgument');
    const badState = await reject({ generation: 9, interval: '1s', paused: 'yes' }, OP_APPLY_STATE);
    expect(badState.code).toBe('InvalidArgument');
    await sleep(100);
    expect(adapter.store.snapshot()).toMatchObject({
      generation: before.generation,
      intervalMs: before.intervalMs,
      paused: before.paused,
    });
    expect(steer.results).toEqual([]);
  });

  it('reports a failing sink over the control stream, then its recovery', async () => {
    let failing = true;
    sink.behaviour = () => (failing ? { status: 500 } : { status: 202 });
    const down = await steer.waitForState((s) => s.eventsDropped >= 1, 'a dropped event reported');
    expect(down.lastSendError).toBe('sink answered 500 Internal Server Error');
    expect(down.eventsRetried).toBeGreaterThanOrEqual(1);
    failing = false;
    const up = await steer.waitForState(
      (s) => s.eventsSent >= 1 && s.lastSendError === null,
      'recovery reported',
    );
    expect(up.eventsDropped).toBeGreaterThanOrEqual(1);
    const metrics = await adapter.metrics.registry.metrics();
    expect(metrics).toMatch(/samplesource_adapter_events_dropped_total\{reason="send_failed"\} [1-9]/);
  });

  it('picks up rotated certificate files for new connections', async () => {
    await steer.waitForState(() => true);
    // A whole new CA written over the mounted files, as a Secret update would.
    const rotated = await issueCerts(join(dir, 'rotated'), 'demo', 'beat');
    for (const f of ['ca.crt', 'tls.crt', 'tls.key'])
      await copyFile(join(rotated.adapterTlsDir, f), join(certs.adapterTlsDir, f));
    try {
      const fresh = new Steering({
        target: `127.0.0.1:${adapter.controlPort}`,
        tls: rotated.operator,
        adapterIdentity: rotated.adapterIdentity,
      }).start();
      const state = await fresh.waitForState(() => true, 'state over a stream with the rotated certificates');
      expect(state.podName).toBe('beat-0');
      await fresh.close();
    } finally {
      // Put the original certificates back for the other tests.
      for (const f of ['ca.crt', 'tls.crt', 'tls.key'])
        await copyFile(join(dir, 'original', f), join(certs.adapterTlsDir, f));
    }
  });

  it('refuses a client that does not carry the operator identity', async () => {
    // Signed by the very CA the adapter trusts: only the identity is wrong.
    const uri = 'spiffe://samplesource.knative.dev/intruder';
    const pair = await certs.ca.issue({ commonName: 'intruder', uris: [uri], usages: ['client'] });
    const intruder = new Steering({
      target: `127.0.0.1:${adapter.controlPort}`,
      tls: { caPem: certs.ca.certPem, ...pair },
      adapterIdentity: certs.adapterIdentity,
      identity: uri,
    }).start();
    const send = intruder.client.sendAndWaitForAck(OP_PAUSE, { generation: 99 }, { timeoutMs: 1_500 });
    await expect(send).rejects.toThrow();
    expect(intruder.states).toEqual([]);
    expect(adapter.store.snapshot().paused).toBe(false);
    await intruder.close();
  });

  it('carries generations as int64, exact beyond 2^53 (Kubernetes generations), and refuses beyond int64', async () => {
    const big = 2n ** 53n + 3n; // 9007199254740995: a double would round it to ...996
    const applied = await steer.run(OP_APPLY_STATE, { generation: big, interval: '300ms', paused: false });
    expect(applied).toMatchObject({ succeeded: true, detail: { generation: big } });
    expect(adapter.store.snapshot().generation).toBe(big);
    await steer.waitForState(
      (s) => s.generation === big,
      'the AdapterState notification with the big generation',
    );
    // One below is older, even though both round to the same double.
    const older = await steer.run(OP_PAUSE, { generation: big - 1n });
    expect(older).toMatchObject({ succeeded: false, reason: 'Superseded' });
    await expect(steer.send(OP_PAUSE, { generation: 2n ** 63n })).rejects.toMatchObject({
      code: 'InvalidArgument',
    });
  });
});
