// How often a reconcile writes, as tables of consecutive passes over one source: the status is
// planned from the informer cache (or the reconciler's own last write, while the cache lags), a
// shared source's status waits for the pool's own report instead of writing a passing state, and
// Events follow only a status that was written. The API server is the recording fake of
// runtime/testing.ts; the pool is the fixtures' FakePool with its statuses set per pass.
import { resourcePath, type Cache, type KubeObject, type Result } from '../runtime/index.js';
import { RecordingFakeClient, type InjectedFault } from '../runtime/testing.js';
import type { SampleSourceStatus } from '../../contract/samplesource.js';
import type { SharedSourceStatus } from '../pool/pool-sessions.js';
import type { SessionsPort } from './reconciler.js';
import { POOL_SETTLE_HOLD_MS } from './reconciler.js';
import { planReconcile } from './desired-state.js';
import { SAMPLESOURCE_RESOURCE } from './resource.js';
import { NOW, cacheOf, conditionsOf, FakePool, fixtureReconciler, sampleSourceObject } from './fixtures.js';

const KEY = 'demo/sample-source';
const SOURCE_PATH = resourcePath(SAMPLESOURCE_RESOURCE, 'demo', 'sample-source');
const STATUS = `PATCH ${SOURCE_PATH}/status`;
const options = { adapter: { image: 'samplesource-adapter:0.1.0' } };
const shared = (generation = 1, status?: SampleSourceStatus) =>
  sampleSourceObject({ mode: 'shared', sink: { uri: 'http://sink.example/' } }, generation, status);
const running = (appliedGeneration = 1): SharedSourceStatus => ({
  phase: 'running',
  pod: 'pool-0',
  appliedGeneration,
});
const READY = {
  Active: 'True',
  ConfigApplied: 'True',
  Deployed: 'True/AssignedToPool',
  Ready: 'True',
  SinkProvided: 'True',
};
/** The status a Ready shared source at `generation` carries. */
const readyStatus = (generation: number) =>
  planReconcile(
    shared(generation),
    { readyPods: [], reports: new Map(), now: NOW, pool: running(generation) },
    options,
  ).status!;

/** A SessionsPort with no dedicated pods (a shared source has none). */
const noSessions: SessionsPort = {
  sync: () => {},
  reports: () => new Map(),
  send: () => {},
  forget: () => {},
};

interface Pass {
  /** The pool's view of the source in this pass (absent: not yet placed). */
  pool?: SharedSourceStatus;
  /** Whether the pool is about to report on it by itself. */
  settling?: boolean;
  /** Time passed since the previous pass. */
  advanceMs?: number;
  fault?: InjectedFault;
  requests: string[];
  events: string[];
  /** 'hold' = back within the hold (requeueAfterMs ≤ POOL_SETTLE_HOLD_MS), 'nothing' = done until the next change. */
  result: 'hold' | 'nothing' | Result;
  /** The stored conditions after the pass. */
  conditions?: Record<string, string>;
}

interface Row {
  name: string;
  /** The source as stored and cached before the first pass. */
  source: object;
  /** The source is gone from the API server, not yet from the cache. */
  deletedOnServer?: boolean;
  passes: Pass[];
  poolLog?: string[];
}

const rows: Row[] = [
  {
    name: 'created onto a pool that places it: one status write (Ready) and its three Events, over two passes',
    source: shared(),
    passes: [
      { settling: true, requests: [], events: [], result: 'hold' },
      {
        pool: running(),
        requests: [STATUS],
        events: ['Normal AssignedToPool', 'Normal ConfigApplied', 'Normal Ready'],
        result: 'nothing',
        conditions: READY,
      },
      // Woken once more before the cache has seen that write: planned from the write itself.
      { pool: running(), requests: [], events: [], result: 'nothing', conditions: READY },
    ],
    poolLog: [`upsert ${KEY} g1 10s`, `upsert ${KEY} g1 10s`, `upsert ${KEY} g1 10s`],
  },
  {
    name: 'the pool does not answer within the hold: the status as it stands (Placing) is written then',
    source: shared(),
    passes: [
      { pool: { phase: 'starting' }, settling: true, requests: [], events: [], result: 'hold' },
      {
        pool: { phase: 'starting' },
        settling: true,
        advanceMs: POOL_SETTLE_HOLD_MS - 1,
        requests: [],
        events: [],
        result: { requeueAfterMs: 1 },
      },
      {
        pool: { phase: 'starting' },
        settling: true,
        advanceMs: 1,
        requests: [STATUS],
        events: [],
        result: 'nothing',
        conditions: {
          Active: 'Unknown/AwaitingAdapters',
          ConfigApplied: 'Unknown/AwaitingAdapters',
          Deployed: 'Unknown/Placing',
          Ready: 'Unknown/Placing',
          SinkProvided: 'True',
        },
      },
    ],
  },
  {
    name: 'no pool pod to place it on (the pool will not report): NoPoolPod written at once',
    source: shared(),
    passes: [
      {
        requests: [STATUS],
        events: [],
        result: 'nothing',
        conditions: {
          Active: 'Unknown/AwaitingAdapters',
          ConfigApplied: 'Unknown/AwaitingAdapters',
          Deployed: 'Unknown/NoPoolPod',
          Ready: 'Unknown/NoPoolPod',
          SinkProvided: 'True',
        },
      },
    ],
  },
  {
    name: 'an interval change on a Ready source: no write until its pod applied the generation, then one, with ConfigApplied',
    source: shared(2, readyStatus(1)),
    passes: [
      { pool: running(1), settling: true, requests: [], events: [], result: 'hold' },
      {
        pool: running(2),
        requests: [STATUS],
        events: ['Normal ConfigApplied'],
        result: 'nothing',
        conditions: READY,
      },
    ],
  },
  {
    name: 'a status write that meets a conflict records no Event; the next pass reads the source fresh and writes once',
    source: shared(),
    passes: [
      {
        pool: running(),
        fault: { method: 'PATCH', path: `${SOURCE_PATH}/status`, code: 409, reason: 'Conflict' },
        requests: [STATUS],
        events: [],
        result: { requeue: true },
      },
      {
        pool: running(),
        requests: [`GET ${SOURCE_PATH}`, STATUS],
        events: ['Normal AssignedToPool', 'Normal ConfigApplied', 'Normal Ready'],
        result: 'nothing',
        conditions: READY,
      },
    ],
  },
  {
    name: 'deleted before the cache was told: its status write meets 404 and the pool lets it go',
    source: shared(),
    deletedOnServer: true,
    passes: [{ pool: running(), requests: [STATUS], events: [], result: 'nothing' }],
    poolLog: [`upsert ${KEY} g1 10s`, `remove ${KEY}`],
  },
];

describe('sampleSourceReconciler: status writes and Events over consecutive passes (table)', () => {
  it.each(rows)('$name', async (row) => {
    const client = new RecordingFakeClient(row.deletedOnServer ? {} : { [SOURCE_PATH]: row.source });
    const sources: Cache<KubeObject> = cacheOf([row.source]);
    const pool = new FakePool();
    let now = NOW.getTime();
    const { reconcile, events } = fixtureReconciler({
      client,
      sources,
      deployments: cacheOf([]),
      pods: cacheOf([]),
      secrets: cacheOf([]),
      sessions: noSessions,
      pki: {
        caPem: '',
        issueAdapter: () => Promise.reject(new Error('a shared source has no certificate')),
      },
      plan: options,
      pool,
      now: () => new Date(now),
    });
    for (const [i, pass] of row.passes.entries()) {
      now += pass.advanceMs ?? 0;
      pool.canned.clear();
      if (pass.pool) pool.canned.set(KEY, pass.pool);
      pool.settlingKeys.clear();
      if (pass.settling) pool.settlingKeys.add(KEY);
      if (pass.fault) client.inject(pass.fault);
      const calls = client.calls.length;
      const recorded = events.length;
      const result = await reconcile();
      const what = `pass ${i + 1}`;
      expect({ what, requests: client.calls.slice(calls) }).toEqual({ what, requests: pass.requests });
      expect({ what, events: events.slice(recorded) }).toEqual({ what, events: pass.events });
      if (pass.result === 'nothing') expect(result).toBeUndefined();
      else if (pass.result === 'hold') expect(result).toEqual({ requeueAfterMs: POOL_SETTLE_HOLD_MS });
      else expect(result).toEqual(pass.result);
      if (pass.conditions) expect(conditionsOf(client.get(SOURCE_PATH)?.status)).toEqual(pass.conditions);
    }
    if (row.poolLog) expect(pool.log).toEqual(row.poolLog);
  });
});
