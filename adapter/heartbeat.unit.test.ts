import { pino } from 'pino';
import { HEARTBEAT_EVENT_TYPE } from '../contract/cloudevents.js';
import type { DevSink } from './dev-sink.js';
import { sinkPerTest } from './sink-per-test.js';
import { Heartbeat, type HeartbeatData } from './heartbeat.js';
import { createMetrics } from './metrics.js';
import { SinkSender } from './sender.js';
import { StatePublisher, StateStore } from './state.js';

const logger = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > until) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('Heartbeat against a real sink', () => {
  let sink: DevSink;
  let url: URL;
  sinkPerTest((s, u) => {
    sink = s;
    url = u;
  });

  function heartbeat(store: StateStore, attemptTimeoutMs = 2_000, retries = 2) {
    const metrics = createMetrics({ defaultMetrics: false });
    const sender = new SinkSender(
      url,
      { retries, initialDelayMs: 20, maxDelayMs: 200, attemptTimeoutMs },
      { onRetry: (_a, _d, r) => store.recordRetry(r) },
    );
    const hb = new Heartbeat({
      source: '/apis/v1/namespaces/demo/samplesources/beat',
      podName: 'beat-0',
      extensions: { team: 'blue' },
      store,
      send: (e, s) => sender.send(e, s),
      logger,
      metrics,
    });
    return { hb, metrics };
  }

  it('sends upstream-compatible events with unique ids and increasing sequence', async () => {
    const store = new StateStore('beat-0', { intervalMs: 100, paused: false });
    const { hb, metrics } = heartbeat(store);
    hb.start();
    await sink.waitForAccepted(4);
    await hb.stop(1_000);
    const events = sink.accepted.map((r) => r.event!);
    for (const e of events) {
      expect(e).toMatchObject({
        type: HEARTBEAT_EVENT_TYPE,
        source: '/apis/v1/namespaces/demo/samplesources/beat',
        team: 'blue',
        specversion: '1.0',
      });
      expect(e.data).toMatchObject({
        interval: '100ms',
        intervalMs: 100,
        heartbeat: '100ms',
        podName: 'beat-0',
      });
    }
    expect(events.map((e) => (e.data as HeartbeatData).sequence)).toEqual(events.map((_, i) => i + 1));
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect(store.snapshot().eventsSent).toBe(events.length);
    expect((await metrics.eventsSent.get()).values[0]?.value).toBe(events.length);
  });

  it('never stacks up more than two sends on a slow sink; extra ticks are dropped, not queued', async () => {
    sink.delayMs = 450;
    const store = new StateStore('beat-0', { intervalMs: 100, paused: false });
    const { hb, metrics } = heartbeat(store);
    hb.start();
    await sleep(1_000);
    await hb.stop(1_000);
    expect(sink.maxOpen).toBe(2);
    const s = store.snapshot();
    // ~10 ticks, each send takes 4.5 intervals: most ticks find two sends open and are dropped.
    expect(s.eventsSent).toBeGreaterThanOrEqual(2);
    expect(s.eventsDropped).toBeGreaterThanOrEqual(3);
    expect(s.eventsSent + s.eventsDropped).toBeGreaterThanOrEqual(6);
    expect(
      (await metrics.eventsDropped.get()).values.find((v) => v.labels.reason === 'busy')?.value,
    ).toBeGreaterThan(0);
    // Every send that was attempted succeeded (slowly): skipped ticks are no failed deliveries,
    // so the sink's health is not turned into "still in flight".
    expect(s.consecutiveFailures).toBe(0);
    expect(s.lastSendFailureReason ?? null).toBeNull();
  });

  it('counts an event dropped once after retries against a failing sink, then recovers', async () => {
    let failing = true;
    sink.behaviour = () => (failing ? { status: 503 } : { status: 202 });
    const store = new StateStore('beat-0', { intervalMs: 300, paused: false });
    const { hb } = heartbeat(store, 2_000, 2);
    hb.start();
    await sink.waitUntil((r) => r.length >= 3, '3 failed attempts');
    await waitFor(() => store.snapshot().eventsDropped >= 1);
    const firstId = sink.requests[0]!.event!.id;
    // One event, tried 1 + 2 times, all with the same id, then dropped once.
    expect(sink.requests.filter((r) => r.event!.id === firstId)).toHaveLength(3);
    expect(store.snapshot()).toMatchObject({
      lastSendError: 'sink answered 503 Service Unavailable',
      lastSendFailureReason: 'HTTP 503',
      consecutiveSuccesses: 0,
    });
    expect(store.snapshot().consecutiveFailures).toBeGreaterThanOrEqual(1);
    expect(store.snapshot().eventsRetried).toBeGreaterThanOrEqual(2);
    failing = false;
    await sink.waitForAccepted(2);
    await hb.stop(1_000);
    expect(store.snapshot()).toMatchObject({ lastSendError: null, consecutiveFailures: 0 });
    expect(store.snapshot().consecutiveSuccesses).toBeGreaterThanOrEqual(2);
    // Dropped events consumed their sequence numbers, so the sink sees the gap.
    expect((sink.accepted[0]!.event!.data as HeartbeatData).sequence).toBeGreaterThan(1);
  });

  it('abandons a send to a hung sink on stop after the deadline', async () => {
    sink.behaviour = () => 'hang';
    const store = new StateStore('beat-0', { intervalMs: 5_000, paused: false });
    const { hb } = heartbeat(store, 30_000);
    hb.start();
    await sink.waitUntil((r) => r.length === 1, 'first request');
    const started = performance.now();
    await hb.stop(200);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(store.snapshot()).toMatchObject({
      eventsDropped: 1,
      lastSendError: expect.stringMatching(/abandoned/) as unknown,
    });
  });

  it('follows pause, resume and interval changes from the store', async () => {
    const store = new StateStore('beat-0', { intervalMs: 100, paused: true });
    const { hb } = heartbeat(store);
    hb.start();
    await sleep(250);
    expect(sink.requests).toHaveLength(0); // paused from the environment
    store.applyConfig({ generation: 1, paused: false, intervalMs: 200 });
    hb.sync();
    await sink.waitForAccepted(3);
    store.applyConfig({ generation: 2, paused: true });
    hb.sync();
    const n = sink.requests.length;
    await sleep(450);
    expect(sink.requests.length).toBe(n);
    await hb.stop(1_000);
    const gaps = sink.accepted.slice(1).map((r, i) => r.arrivedAt - sink.accepted[i]!.arrivedAt);
    // No burst on resume or interval change (a burst would show as a gap near 0; allow for load jitter).
    for (const g of gaps) expect(g).toBeGreaterThan(100);
  });
});

describe('StatePublisher', () => {
  it('publishes config changes at once and counter changes at most once per gap', async () => {
    const store = new StateStore('p', { intervalMs: 1_000, paused: false });
    const published: Array<{ at: number; sent: number; interval: string }> = [];
    const t0 = performance.now();
    const publisher = new StatePublisher(
      store,
      (s) => published.push({ at: performance.now() - t0, sent: s.eventsSent, interval: s.interval }),
      200,
    );
    for (let i = 0; i < 50; i++) store.recordSent();
    store.applyConfig({ generation: 1, intervalMs: 2_000 });
    expect(published).toEqual([{ at: expect.any(Number) as unknown, sent: 50, interval: '2s' }]);
    store.recordSent();
    store.recordSent();
    await sleep(100);
    expect(published).toHaveLength(1);
    await sleep(400);
    expect(published).toHaveLength(2);
    expect(published[1]!.sent).toBe(52);
    expect(published[1]!.at - published[0]!.at).toBeGreaterThanOrEqual(190);
    publisher.close();
  });

  it('stays quiet for a config change that changes nothing', () => {
    const store = new StateStore('p', { intervalMs: 1_000, paused: false });
    const seen: unknown[] = [];
    const publisher = new StatePublisher(store, (s) => seen.push(s));
    store.applyConfig({ generation: 0, intervalMs: 1_000, paused: false });
    expect(seen).toEqual([]);
    publisher.close();
  });
});
