// A new operator term (restart or failover) against pool pods that were serving sources: a fresh
// PoolSessions knows no source and no sequence. It must learn the pods' sequences before it places
// anything, so that a source continues its sequence wherever it lands, and never repeats one. Real
// pool processes over real mTLS, a real HTTP sink. Term 2 gets a third pod (so placement moves
// some sources to a pod that never ran them) and learns of the sources only after its sessions
// are up, the way the reconciles of a restarted operator upsert them after the pods connected.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { OPERATOR_IDENTITY } from '../../contract/identities.js';
import { DevSink, type ReceivedEvent } from '../../adapter/dev-sink.js';
import type { HeartbeatData } from '../../adapter/heartbeat.js';
import { issuePoolCerts, type PoolCerts } from '../../adapter/pool/testkit.js';
import { spawnPoolPod, stopPoolPod, type PoolProcess } from './pool-process.js';
import { PoolSessions, type SharedSource } from '../../operator/pool/pool-sessions.js';

const INTERVAL_MS = 200;
const DEAD_PEER_BOUND_MS = 2_000;

const keyOf = (r: ReceivedEvent) => {
  const m = /\/namespaces\/([^/]+)\/samplesources\/([^/]+)$/.exec(r.event?.source ?? '');
  return m ? `${m[1]}/${m[2]}` : '?';
};

async function until(predicate: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('pool sessions: a new operator term continues every sequence', () => {
  let dir: string;
  let certs: PoolCerts;
  let sink: DevSink;
  let url: URL;
  const terms: PoolSessions[] = [];
  const procs: PoolProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pool-term-'));
    certs = await issuePoolCerts(dir);
    sink = new DevSink();
    url = await sink.start();
    procs.push(
      ...(await Promise.all(['pool-0', 'pool-1', 'pool-2'].map((n) => spawnPoolPod(n, certs.poolTlsDir)))),
    );
  });
  afterAll(async () => {
    for (const t of terms) await t.stop();
    await Promise.all(procs.map((p) => stopPoolPod(p, 'SIGKILL')));
    await sink.close();
    await rm(dir, { recursive: true, force: true });
  });

  const term = () => {
    const s = new PoolSessions({
      tls: () => certs.operator,
      identity: OPERATOR_IDENTITY,
      deadPeerBoundMs: DEAD_PEER_BOUND_MS,
      onChange: () => undefined,
      logger: pino({ level: 'silent' }),
    });
    terms.push(s);
    return s;
  };

  it('learns the pods’ sequences before placing, then continues each source after its last one', async () => {
    const pods = procs.map((p) => ({ name: p.name, target: p.target }));
    const sources: SharedSource[] = Array.from({ length: 12 }, (_, i) => ({
      key: `ns/source-${i}`,
      uid: `uid-${i}`,
      generation: 1,
      interval: `${INTERVAL_MS}ms`,
      paused: false,
      sink: { uri: url.href },
    }));
    const keys = sources.map((s) => s.key);
    const countOf = (key: string) => sink.requests.filter((r) => r.event && keyOf(r) === key).length;

    // Term 1 on two pods: every source sends a few heartbeats.
    const first = term();
    for (const src of sources) first.upsertSource(src);
    first.start();
    first.setPods(pods.slice(0, 2));
    await until(
      () => keys.every((k) => first.status(k)?.phase === 'running'),
      'term 1: every source running',
    );
    await until(() => keys.every((k) => countOf(k) >= 3), 'term 1: three heartbeats of every source');
    await first.stop();

    // Term 2 at once (within the pods' lease: the sources are still running), on three pods, and the
    // sources only upserted once the sessions are up: nothing may be placed before every pod reported.
    const second = term();
    second.start();
    second.setPods(pods);
    await new Promise((r) => setTimeout(r, 300));
    for (const src of sources) second.upsertSource(src);
    await until(() => second.placing, 'term 2: every pod reported its sequences', 10_000);
    const switchedAt = performance.now();
    await until(
      () => keys.every((k) => second.status(k)?.phase === 'running'),
      'term 2: every source running',
    );
    const owners = new Map(keys.map((k) => [k, second.status(k)!.pod!]));
    expect(new Set(owners.values()).has('pool-2')).toBe(true); // some sources moved to the new pod
    await until(
      () =>
        keys.every(
          (k) =>
            sink.requests.filter((r) => r.event && keyOf(r) === k && r.arrivedAt > switchedAt).length >= 3,
        ),
      'term 2: three more heartbeats of every source',
    );

    // A source taken off the pool (switched to dedicated): once its owner let go, the pool hands on
    // the last sequence it sent, for the dedicated pods to continue after.
    const leaving = sources[0]!;
    second.removeSource(leaving.key);
    await until(() => !second.isLettingGo(leaving.key), 'the release confirmed');
    const sentBefore = sink.requests
      .filter((r) => r.event && keyOf(r) === leaving.key)
      .map((r) => (r.event!.data as HeartbeatData).sequence);
    expect(second.sequenceFloor(leaving.uid)).toBeGreaterThanOrEqual(Math.max(...sentBefore));

    for (const key of keys) {
      const seqs = sink.requests
        .filter((r) => r.event && keyOf(r) === key)
        .map((r) => (r.event!.data as HeartbeatData).sequence);
      // Never a sequence twice, and in arrival order strictly increasing: one emitter at a time.
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs.slice(1).every((s, i) => s > seqs[i]!)).toBe(true);
    }
    await second.stop();
  });

  it('places nothing while a member has not reported, and after the dead-peer bound places without it', async () => {
    const live = procs[0]!;
    const s = term();
    const startedAt = performance.now();
    s.start();
    // A member whose control port answers nothing (a pod that cannot be reached): it never reports.
    s.setPods([
      { name: live.name, target: live.target },
      { name: 'pool-unreachable', target: '127.0.0.1:1' },
    ]);
    const src: SharedSource = {
      key: 'ns/gated',
      uid: 'uid-gated',
      generation: 1,
      interval: `${INTERVAL_MS}ms`,
      paused: false,
      sink: { uri: url.href },
    };
    s.upsertSource(src);
    await new Promise((r) => setTimeout(r, 300));
    expect(s.placing).toBe(false);
    expect(s.status(src.key)?.phase).toBe('unplaced');
    await until(
      () => s.status(src.key)?.phase === 'running',
      'placed after the bound',
      DEAD_PEER_BOUND_MS + 15_000,
    );
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(DEAD_PEER_BOUND_MS - 50);
    expect(s.status(src.key)?.pod).toBe(live.name);
  });
});
