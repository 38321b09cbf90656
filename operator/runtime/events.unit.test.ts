// Tables for the event recorder's queue: what a burst of recorded events becomes at the API server
// (created, folded, dropped past the bound and counted) and how many writes are in flight at once.
// The API server is the recording fake of testing.ts; `HeldRequests` (a fake too) holds every
// request until the test lets it go, a slow API server on demand. The real API server's side
// (one Event with a count, the per-object rate limit) is in status-events.cluster.test.ts.
import type { KubeClient, RequestInit } from './client.js';
import { EventRecorder, type EventRecorderOptions } from './events.js';
import { RuntimeMetrics } from './metrics.js';
import type { KubeObject } from './objects.js';
import { RecordingFakeClient } from './testing.js';

const objectNamed = (i: number): KubeObject => ({
  apiVersion: 'samples.knative.dev/v1alpha1',
  kind: 'SampleSource',
  metadata: { name: `s${i}`, namespace: 'demo', uid: `uid-${i}` },
});

/** A fake API server that answers only when the test releases a request; counts the most in flight. */
class HeldRequests implements KubeClient {
  private readonly held: Array<() => void> = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(private readonly inner: KubeClient) {}
  async request<T>(method: string, path: string, init?: RequestInit): Promise<T> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise<void>((resolve) => this.held.push(resolve));
    this.inFlight--;
    return this.inner.request<T>(method, path, init);
  }
  stream(): Promise<void> {
    return Promise.reject(new Error('no watches'));
  }
  /** Lets every held request go, until none is held after a turn of the event loop. */
  async releaseAll(): Promise<void> {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      if (this.held.length === 0) return;
      for (const go of this.held.splice(0)) go();
    }
  }
}

/** The Events the fake API server holds, as `object reason count`, in the order they were created. */
function stored(api: RecordingFakeClient): string[] {
  return api.requests
    .filter((r) => r.method === 'POST')
    .map((r) => {
      const name = (r.body as { metadata: { name: string } }).metadata.name;
      const e = api.get(`${r.path}/${name}`) as unknown as {
        involvedObject: { name: string };
        reason: string;
        count: number;
      };
      return `${e.involvedObject.name} ${e.reason} ${e.count}`;
    });
}

describe('EventRecorder: the bounded queue (table)', () => {
  interface Row {
    name: string;
    options: Partial<EventRecorderOptions>;
    /** Objects, each given `reasons` distinct events, recorded in one go (before any write ends). */
    objects: number;
    reasons: string[];
    /** Each event recorded this many times (a hot loop). */
    repeats?: number;
    created: number;
    droppedQueueFull: number;
    /** The first Events created, `object reason count`. */
    first: string[];
  }
  const rows: Row[] = [
    {
      name: 'three Events for each of 10 sources within the bound: all written in order, none dropped',
      options: { maxPending: 30 },
      objects: 10,
      reasons: ['AssignedToPool', 'ConfigApplied', 'Ready'],
      created: 30,
      droppedQueueFull: 0,
      first: ['s0 AssignedToPool 1', 's0 ConfigApplied 1', 's0 Ready 1', 's1 AssignedToPool 1'],
    },
    {
      name: 'past the bound: the first 12 are written, the other 18 dropped and counted',
      options: { maxPending: 12 },
      objects: 10,
      reasons: ['AssignedToPool', 'ConfigApplied', 'Ready'],
      created: 12,
      droppedQueueFull: 18,
      first: ['s0 AssignedToPool 1', 's0 ConfigApplied 1', 's0 Ready 1', 's1 AssignedToPool 1'],
    },
    {
      name: 'a hot loop folds into one Event per object whatever the bound: nothing dropped',
      options: { maxPending: 3 },
      objects: 3,
      reasons: ['SinkNotFound'],
      repeats: 50,
      created: 3,
      droppedQueueFull: 0,
      first: ['s0 SinkNotFound 50', 's1 SinkNotFound 50', 's2 SinkNotFound 50'],
    },
  ];

  it.each(rows)('$name', async (row) => {
    const api = new RecordingFakeClient();
    const metrics = new RuntimeMetrics();
    const recorder = new EventRecorder(api, { component: 'test', ...row.options, metrics });
    for (let i = 0; i < row.objects; i++)
      for (const reason of row.reasons)
        for (let r = 0; r < (row.repeats ?? 1); r++)
          recorder.normal(objectNamed(i), reason, `${reason} of s${i}`);
    await recorder.flush();
    expect(recorder.stats).toMatchObject({
      created: row.created,
      droppedQueueFull: row.droppedQueueFull,
      failed: 0,
    });
    expect(stored(api).slice(0, row.first.length)).toEqual(row.first);
    expect(stored(api)).toHaveLength(row.created);
    const full = (await metrics.eventsAggregated.get()).values.find((v) => v.labels.outcome === 'queue_full');
    expect(full?.value ?? 0).toBe(row.droppedQueueFull);
    const created = (await metrics.eventsWritten.get()).values.find((v) => v.labels.outcome === 'created');
    expect(created?.value).toBe(row.created);
    expect(recorder.pending).toBe(0);
  });
});

describe('EventRecorder: writes off the caller’s path (table)', () => {
  it.each([{ writers: 1 }, { writers: 2 }, { writers: 4 }])(
    'recording returns at once; at most $writers writes in flight on a slow API server',
    async ({ writers }) => {
      const api = new RecordingFakeClient();
      const held = new HeldRequests(api);
      const recorder = new EventRecorder(held, { component: 'test', writers });
      for (let i = 0; i < 20; i++) recorder.normal(objectNamed(i), 'Ready', 'ready');
      // Nothing answered yet, and event() has returned 20 times.
      expect(api.requests).toHaveLength(0);
      const flushed = recorder.flush();
      await held.releaseAll();
      await flushed;
      expect(held.maxInFlight).toBe(writers);
      expect(recorder.stats.created).toBe(20);
    },
  );

  it('a repeat while its Event is being created waits for it, then updates its count (one Event, never two)', async () => {
    const api = new RecordingFakeClient();
    const held = new HeldRequests(api);
    const recorder = new EventRecorder(held, { component: 'test', writers: 4 });
    const obj = objectNamed(0);
    recorder.warning(obj, 'SinkNotFound', 'no sink');
    await new Promise((r) => setImmediate(r)); // the POST is in flight now
    for (let i = 0; i < 9; i++) recorder.warning(obj, 'SinkNotFound', 'no sink');
    expect(held.inFlight).toBe(1);
    const flushed = recorder.flush();
    await held.releaseAll();
    await flushed;
    expect(api.calls.map((c) => c.split(' ')[0])).toEqual(['POST', 'PATCH']);
    expect(stored(api)).toEqual(['s0 SinkNotFound 10']);
    expect(recorder.stats).toMatchObject({ created: 1, updated: 1, failed: 0 });
  });
});
