// Two pool pods in-process, steered over real mTLS control streams by real ControlClients, sending
// to real HTTP sinks: snapshots converge, increments reach one source only, handoff continues the
// sequence without overlap, a slow sink stays contained, a bad entry is refused on its own.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { heartbeatSource } from '../../contract/cloudevents.js';
import { POOL_IDENTITY } from '../../contract/identities.js';
import {
  NOTIFICATION_POOL_STATE,
  OP_POOL_RELEASE,
  OP_POOL_SNAPSHOT,
  OP_POOL_UPSERT,
  PoolStateSchema,
  REASON_STALE_VERSION,
  ReleasedSourceSchema,
  type PoolState,
} from '../../contract/pool.js';
import { DevSink, type ReceivedEvent } from '../dev-sink.js';
import type { HeartbeatData } from '../heartbeat.js';
import { ManualClock } from '../../control/clock.js';
import { eventually } from '../../control/testing.js';
import { Steering } from '../testkit.js';
import { loadPoolConfig } from './config.js';
import { startPoolAdapter, type RunningPool } from './pool-adapter.js';
import { assignment, issuePoolCerts, type PoolCerts } from './testkit.js';

const data = (r: ReceivedEvent) => r.event!.data as HeartbeatData;
const fromSource = (key: string) => {
  const [ns, name] = key.split('/') as [string, string];
  const source = heartbeatSource(ns, name);
  return (r: ReceivedEvent) => r.event?.source === source;
};

describe('pool adapter: many sources on one pod, steered over mTLS', () => {
  let dir: string;
  let certs: PoolCerts;
  let sink: DevSink;
  let sinkUrl: URL;
  const pods: RunningPool[] = [];
  const steers: Steering[] = [];
  const poolStates = new Map<Steering, PoolState[]>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pool-test-'));
    certs = await issuePoolCerts(dir);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  beforeEach(async () => {
    sink = new DevSink();
    sinkUrl = await sink.start();
  });
  afterEach(async () => {
    await Promise.all(steers.splice(0).map((s) => s.close()));
    await Promise.all(pods.splice(0).map((p) => p.close()));
    await sink.close();
  });

  /** Pod knobs: the shutdown drain, the sources' clock, and SINK_TIMEOUT (default 300ms). */
  interface PodOptions {
    drainMs?: number;
    sourceClock?: ManualClock;
    sinkTimeout?: string;
  }

  async function startPod(
    name: string,
    { drainMs, sourceClock, sinkTimeout = '300ms' }: PodOptions = {},
  ): Promise<{ pod: RunningPool; steer: Steering }> {
    const config = loadPoolConfig({
      POD_NAME: name,
      CONTROL_ADDRESS: '127.0.0.1',
      CONTROL_PORT: '0',
      HEALTH_PORT: '0',
      CONTROL_TLS_DIR: certs.poolTlsDir,
      SINK_RETRIES: '0',
      SINK_TIMEOUT: sinkTimeout,
      SHUTDOWN_TIMEOUT: '500ms',
      POOL_LEASE: '1s',
    });
    const pod = await startPoolAdapter(config, pino({ level: 'silent' }), {
      publishGapMs: 50,
      ...(drainMs !== undefined ? { drainMs } : {}),
      ...(sourceClock ? { sourceClock } : {}),
      defaultMetrics: false,
    });
    pods.push(pod);
    const steer = new Steering({
      target: `127.0.0.1:${pod.controlPort}`,
      tls: certs.operator,
      adapterIdentity: POOL_IDENTITY,
    });
    const states: PoolState[] = [];
    poolStates.set(steer, states);
    steer.client.onNotification((n) => {
      if (n.type !== NOTIFICATION_POOL_STATE) return;
      const parsed = PoolStateSchema.safeParse(n.data);
      if (parsed.success) states.push(parsed.data);
    });
    steer.start();
    steers.push(steer);
    return { pod, steer };
  }

  /** Sequences 1..n. */
  const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  /**
   * Moves `clock` on by `intervals` intervals of 200 ms, one at a time; after each, waits (in real
   * time, as long as the machine needs) until every source of `keys` has one more event at the
   * sink and counted as sent. Each beat is delivered before the next interval begins, so nothing
   * here depends on how fast the machine is; a beat held up behind another source never arrives
   * and fails the wait.
   */
  async function beatIntervals(pod: RunningPool, clock: ManualClock, keys: string[], intervals: number) {
    const atSink = (key: string) => sink.requests.filter(fromSource(key)).length;
    const before = new Map(keys.map((key) => [key, atSink(key)]));
    for (let k = 1; k <= intervals; k++) {
      await clock.advance(200);
      await sink.waitUntil(
        () => keys.every((key) => atSink(key) >= before.get(key)! + k),
        `beat ${k} of ${keys.join(', ')} at the sink`,
      );
      await eventually(
        () => keys.every((key) => pod.pool.source(key)?.eventsSent === before.get(key)! + k),
        10_000,
        `beat ${k} of ${keys.join(', ')} counted as sent`,
      );
    }
  }

  it('converges to a paged snapshot, then to a newer one that drops a source (state, not history)', async () => {
    const { pod, steer } = await startPod('pool-0');
    const keys = ['demo/a', 'demo/b', 'demo/c'];
    const page0 = await steer.run(OP_POOL_SNAPSHOT, {
      version: 10,
      page: 0,
      last: false,
      sources: keys.slice(0, 2).map((k) => assignment(k, sinkUrl)),
    });
    expect(page0.succeeded).toBe(true);
    expect(pod.pool.size).toBe(0); // nothing runs before the last page
    const page1 = await steer.run(OP_POOL_SNAPSHOT, {
      version: 10,
      page: 1,
      last: true,
      sources: [assignment('demo/c', sinkUrl)],
    });
    expect(page1).toMatchObject({ succeeded: true, detail: { version: 10, running: 3, started: 3 } });
    await sink.waitUntil(
      (rs) => keys.every((k) => rs.filter(fromSource(k)).length >= 2),
      'two beats of each',
    );

    const next = await steer.run(OP_POOL_SNAPSHOT, {
      version: 11,
      page: 0,
      last: true,
      sources: keys.slice(0, 2).map((k) => assignment(k, sinkUrl)),
    });
    expect(next.detail).toMatchObject({ running: 2, started: 0, stopped: 1 });
    // A send already on the wire when c stopped may still be read by the sink (the machine can be
    // very busy): let two of a's beats pass first, then c must stay silent while a beats on.
    const aBeats = () => sink.requests.filter(fromSource('demo/a')).length;
    const settle = aBeats() + 2;
    await sink.waitUntil(() => aBeats() >= settle, 'a keeps beating');
    const cCount = sink.requests.filter(fromSource('demo/c')).length;
    await sink.waitUntil(() => aBeats() >= settle + 4, 'a keeps beating');
    expect(sink.requests.filter(fromSource('demo/c')).length).toBe(cCount);

    // A resent snapshot of an older version is refused and changes nothing.
    const stale = await steer.run(OP_POOL_SNAPSHOT, {
      version: 9,
      page: 0,
      last: true,
      sources: [assignment('demo/c', sinkUrl)],
    });
    expect(stale).toMatchObject({ succeeded: false, reason: REASON_STALE_VERSION });
    expect(pod.pool.size).toBe(2);
    const states = poolStates.get(steer)!;
    await steer.waitFor(() => states.at(-1)?.version === 11, 'PoolState of version 11');
    expect(
      states
        .at(-1)!
        .sources.map((s) => s.key)
        .sort(),
    ).toEqual(['demo/a', 'demo/b']);
  });

  it('applies an interval change and a pause to one source only', async () => {
    // Virtual time: every source starts at a random phase within its first 200 ms, then beats on
    // its interval; all three have beaten once when the changes arrive.
    const clock = new ManualClock();
    const { pod, steer } = await startPod('pool-0', { sourceClock: clock });
    const keys = ['demo/a', 'demo/b', 'demo/c'];
    await steer.run(OP_POOL_SNAPSHOT, {
      version: 1,
      page: 0,
      last: true,
      sources: keys.map((k) => assignment(k, sinkUrl)),
    });
    await beatIntervals(pod, clock, keys, 1);
    const change = await steer.run(OP_POOL_UPSERT, {
      version: 2,
      source: assignment('demo/a', sinkUrl, { generation: 2, interval: '1s' }),
    });
    expect(change).toMatchObject({
      succeeded: true,
      detail: { key: 'demo/a', generation: 2, intervalMs: 1000 },
    });
    const pause = await steer.run(OP_POOL_UPSERT, {
      version: 3,
      source: assignment('demo/b', sinkUrl, { generation: 2, paused: true }),
    });
    expect(pause).toMatchObject({ succeeded: true, detail: { key: 'demo/b', paused: true } });
    expect(pod.pool.source('demo/c')).toMatchObject({ generation: 1, intervalMs: 200, paused: false });
    // 8 more intervals of 200 ms (1.6 s): c beats 8 more times; a, now at 1 s, exactly once (1 s
    // after its first beat; at 200 ms it would beat 8 times); b not at all.
    await beatIntervals(pod, clock, ['demo/c'], 8);
    await sink.waitUntil((rs) => rs.filter(fromSource('demo/a')).length >= 2, 'a beats at 1 s');
    expect(sink.requests.filter(fromSource('demo/c')).map((r) => data(r).sequence)).toEqual(upTo(9));
    expect(pod.pool.source('demo/a')).toMatchObject({ lastSequence: 2, intervalMs: 1000 });
    const aBeats = sink.requests.filter(fromSource('demo/a')).map(data);
    expect(aBeats.map((d) => [d.sequence, d.intervalMs])).toEqual([
      [1, 200],
      [2, 1000],
    ]);
    expect(pod.pool.source('demo/b')).toMatchObject({ lastSequence: 1, paused: true });
    expect(sink.requests.filter(fromSource('demo/b')).map((r) => data(r).sequence)).toEqual([1]);
  });

  it('hands a source off release-then-start: the sequence continues on the new owner, never overlapping', async () => {
    const a = await startPod('pool-a');
    const b = await startPod('pool-b');
    await a.steer.run(OP_POOL_SNAPSHOT, {
      version: 1,
      page: 0,
      last: true,
      sources: [assignment('demo/moving', sinkUrl)],
    });
    await b.steer.run(OP_POOL_SNAPSHOT, { version: 1, page: 0, last: true, sources: [] });
    await sink.waitUntil((rs) => rs.filter(fromSource('demo/moving')).length >= 3, 'three beats from a');

    const release = await a.steer.run(OP_POOL_RELEASE, { version: 2, key: 'demo/moving' });
    expect(release.succeeded).toBe(true);
    const { lastSequence } = ReleasedSourceSchema.parse(release.detail);
    expect(lastSequence).toBeGreaterThanOrEqual(3);
    const releasedAt = performance.now();
    await b.steer.run(OP_POOL_UPSERT, {
      version: 2,
      source: assignment('demo/moving', sinkUrl, { lastSequence }),
    });
    await sink.waitUntil(
      (rs) => rs.filter((r) => fromSource('demo/moving')(r) && data(r).podName === 'pool-b').length >= 3,
      'three beats from b',
    );

    const beats = sink.requests.filter(fromSource('demo/moving'));
    const sequences = beats.map((r) => data(r).sequence);
    expect(new Set(sequences).size).toBe(sequences.length);
    expect([...sequences].sort((x, y) => x - y)).toEqual(sequences.map((_, i) => i + 1));
    const fromA = beats.filter((r) => data(r).podName === 'pool-a');
    const fromB = beats.filter((r) => data(r).podName === 'pool-b');
    expect(Math.max(...fromA.map((r) => r.arrivedAt))).toBeLessThan(releasedAt);
    expect(Math.max(...fromA.map((r) => data(r).sequence))).toBe(lastSequence);
    expect(Math.min(...fromB.map((r) => data(r).sequence))).toBe(lastSequence + 1);
  });

  /**
   * Runs `stuck` (key and sink URL each; their sends hang, and the attempt timeout is far beyond
   * the test) and `fine` (to the test's sink) on one pod for 8 intervals of virtual time. Then
   * every fine source has exactly 8 events arrived (sequences 1..8), each before the next interval
   * began, and none dropped; every stuck source holds its two sends in flight and has every later
   * tick dropped and counted on itself alone.
   */
  async function runContained(stuck: Array<[string, URL]>, fine: string[]): Promise<void> {
    const intervals = 8;
    const clock = new ManualClock();
    const { pod, steer } = await startPod('pool-0', { sourceClock: clock, sinkTimeout: '10m' });
    await steer.run(OP_POOL_SNAPSHOT, {
      version: 1,
      page: 0,
      last: true,
      sources: [
        ...stuck.map(([key, url]) => assignment(key, url)),
        ...fine.map((k) => assignment(k, sinkUrl)),
      ],
    });
    await beatIntervals(pod, clock, fine, intervals);
    for (const key of fine) {
      expect(sink.requests.filter(fromSource(key)).map((r) => data(r).sequence)).toEqual(upTo(intervals));
      expect(pod.pool.source(key)).toMatchObject({ eventsSent: intervals, eventsDropped: 0 });
    }
    for (const [key] of stuck) {
      expect(pod.pool.source(key)).toMatchObject({
        lastSequence: intervals,
        eventsSent: 0,
        eventsDropped: intervals - 2,
      });
    }
  }

  it('keeps a slow sink to its own source: the others beat on time, drops are counted on it alone', async () => {
    const slow = new DevSink();
    slow.behaviour = () => 'hang';
    const slowUrl = await slow.start();
    try {
      await runContained([['demo/stuck', slowUrl]], ['demo/fine', 'demo/also']);
      // Its two sends reached the slow sink and are held open there; nothing else was sent to it.
      await slow.waitUntil((rs) => rs.length >= 2, 'the two hung sends');
      expect(slow.requests.map((r) => data(r).sequence).sort((x, y) => x - y)).toEqual([1, 2]);
      expect(slow.open).toBe(2);
    } finally {
      await slow.close();
    }
  });

  it('keeps a hung path to its own source when sources share one sink origin (one shared connection pool)', async () => {
    // Every source of a CA set shares one undici Agent: its requests that hang must hold sockets
    // of their own, never queue the other sources' sends behind them.
    sink.behaviour = (_n, req) => (req.url?.startsWith('/stuck') ? 'hang' : { status: 202 });
    const stuckUrl = new URL('/stuck', sinkUrl);
    await runContained(
      [
        ['demo/stuck', stuckUrl],
        ['demo/stuck2', stuckUrl],
      ],
      ['demo/fine'],
    );
    // The hung sends of both stuck sources are all open at once on the one origin: no per-origin queue.
    const hung = (rs: ReceivedEvent[]) => rs.filter((r) => r.status === 0);
    await sink.waitUntil((rs) => hung(rs).length >= 4, 'the four hung sends');
    expect(hung(sink.requests)).toHaveLength(4);
    expect(sink.maxOpen).toBeGreaterThanOrEqual(4);
  });

  it('refuses a bad entry of a snapshot on that source alone and runs the rest', async () => {
    const { pod, steer } = await startPod('pool-0');
    const result = await steer.run(OP_POOL_SNAPSHOT, {
      version: 1,
      page: 0,
      last: true,
      sources: [assignment('demo/good', sinkUrl), assignment('demo/bad', sinkUrl, { interval: '5ms' })],
    });
    expect(result).toMatchObject({ succeeded: true, detail: { running: 1, rejected: 1 } });
    const states = poolStates.get(steer)!;
    await steer.waitFor(() => (states.at(-1)?.rejected.length ?? 0) === 1, 'PoolState with the rejection');
    expect(states.at(-1)!.rejected[0]).toMatchObject({
      key: 'demo/bad',
      message: expect.stringMatching(/interval.*below the minimum/) as unknown,
    });
    await sink.waitUntil((rs) => rs.filter(fromSource('demo/good')).length >= 2, 'good beats');
    expect(pod.pool.source('demo/bad')).toBeUndefined();

    // An upsert whose payload fails its schema is rejected in its ack and changes nothing.
    await expect(
      steer.send(OP_POOL_UPSERT, {
        version: 2,
        source: assignment('demo/good', sinkUrl, { interval: 'often' }),
      }),
    ).rejects.toThrow(/interval/);
    expect(pod.pool.source('demo/good')).toMatchObject({ intervalMs: 200 });
  });

  it('stops its sources once cut off from the operator for its lease, and restarts them on the next snapshot', async () => {
    const { pod, steer } = await startPod('pool-0');
    await steer.run(OP_POOL_SNAPSHOT, {
      version: 1,
      page: 0,
      last: true,
      sources: [assignment('demo/a', sinkUrl)],
    });
    await sink.waitUntil((rs) => rs.filter(fromSource('demo/a')).length >= 2, 'a beats');
    await steer.close();
    const cut = performance.now();
    while (pod.pool.size > 0 && performance.now() - cut < 5_000) await new Promise((r) => setTimeout(r, 50));
    const stoppedAfter = performance.now() - cut;
    expect(pod.pool.size).toBe(0);
    expect(stoppedAfter).toBeGreaterThanOrEqual(1_000); // not before the lease
    await new Promise((r) => setTimeout(r, 600)); // an in-flight send may still land; nothing after
    const late = sink.requests.filter(
      (r) => fromSource('demo/a')(r) && r.arrivedAt > cut + stoppedAfter + 300,
    );
    expect(late).toEqual([]);

    const again = new Steering({
      target: `127.0.0.1:${pod.controlPort}`,
      tls: certs.operator,
      adapterIdentity: POOL_IDENTITY,
    }).start();
    steers.push(again);
    const lastSequence = Math.max(...sink.requests.filter(fromSource('demo/a')).map((r) => data(r).sequence));
    await again.run(OP_POOL_SNAPSHOT, {
      version: 2,
      page: 0,
      last: true,
      sources: [assignment('demo/a', sinkUrl, { lastSequence })],
    });
    const mark = performance.now();
    await sink.waitUntil(
      (rs) => rs.some((r) => fromSource('demo/a')(r) && r.arrivedAt > mark),
      'a beats again',
    );
    const resumed = sink.requests.filter((r) => fromSource('demo/a')(r) && r.arrivedAt > mark);
    expect(data(resumed[0]!).sequence).toBe(lastSequence + 1);
  });

  it('accepts only the operator identity', async () => {
    const { pod } = await startPod('pool-0');
    const uri = 'spiffe://samplesource.knative.dev/ns/demo/samplesource/a';
    const pair = await certs.ca.issue({ commonName: 'not-the-operator', uris: [uri], usages: ['client'] });
    const intruder = new Steering({
      target: `127.0.0.1:${pod.controlPort}`,
      tls: { caPem: certs.ca.certPem, ...pair },
      adapterIdentity: POOL_IDENTITY,
      identity: uri,
    }).start();
    steers.push(intruder);
    const send = intruder.client.sendAndWaitForAck(
      OP_POOL_SNAPSHOT,
      { version: 1, page: 0, last: true, sources: [assignment('demo/a', sinkUrl)] },
      { timeoutMs: 1_500 },
    );
    await expect(send).rejects.toThrow();
    expect(pod.pool.size).toBe(0);
  });

  it('shutting down, it stops every source yet answers their releases with the last sequence sent, then closes', async () => {
    // A drain far longer than the test needs: it must end because every source was released, not by
    // its deadline (which a loaded machine could reach before the releases are sent).
    const { pod, steer } = await startPod('pool-leaving', { drainMs: 60_000 });
    const keys = ['demo/x', 'demo/y'];
    await steer.run(OP_POOL_SNAPSHOT, {
      version: 1,
      page: 0,
      last: true,
      sources: keys.map((k) => assignment(k, sinkUrl)),
    });
    await sink.waitUntil(
      (rs) => keys.every((k) => rs.filter(fromSource(k)).length >= 2),
      'two beats from each source',
    );
    let closed = false;
    const closing = pod.close().then(() => (closed = true));
    await eventually(() => pod.pool.size === 0, 5_000, 'every source stopped by the shutdown');
    // No more starts while leaving, but the pod is still there for the operator's releases.
    const refused = await steer.run(OP_POOL_UPSERT, { version: 2, source: assignment('demo/z', sinkUrl) });
    expect(refused.succeeded).toBe(false);
    expect(closed).toBe(false);
    for (const key of keys) {
      const release = await steer.run(OP_POOL_RELEASE, { version: 2, key });
      expect(release.succeeded).toBe(true);
      const { lastSequence } = ReleasedSourceSchema.parse(release.detail);
      const seen = sink.accepted.filter(fromSource(key)).map((r) => data(r).sequence);
      expect(lastSequence).toBeGreaterThanOrEqual(Math.max(...seen));
    }
    expect(pod.pool.unreleasedCount).toBe(0);
    await closing;
    expect(closed).toBe(true);
  });
});
