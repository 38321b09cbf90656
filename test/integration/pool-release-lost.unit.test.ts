// A release the old owner never answers: a pool pod removed from the pool (scaled away) is frozen
// (SIGSTOP) before it can confirm, then dies (SIGKILL). Its sources must start on the survivor
// after the dead-peer bound, not wait for the lost release forever, and never repeat a sequence.
// Real pool processes over real mTLS, a real HTTP sink; the freeze stands in for a pod whose
// shutdown outruns the release (no real part produces that timing on demand).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { OPERATOR_IDENTITY } from '../../contract/identities.js';
import { DevSink } from '../../adapter/dev-sink.js';
import type { HeartbeatData } from '../../adapter/heartbeat.js';
import { issuePoolCerts, type PoolCerts } from '../../adapter/pool/testkit.js';
import { spawnPoolPod, stopPoolPod, type PoolProcess } from './pool-process.js';
import { PoolSessions, type SharedSource } from '../../operator/pool/pool-sessions.js';

const INTERVAL_MS = 300;
const DEAD_PEER_BOUND_MS = 2_000;

async function until(predicate: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('pool sessions: a release lost with its pod', () => {
  let dir: string;
  let certs: PoolCerts;
  let sink: DevSink;
  let sessions: PoolSessions | undefined;
  const procs: PoolProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pool-release-'));
    certs = await issuePoolCerts(dir);
    sink = new DevSink();
  });
  afterAll(async () => {
    await sessions?.stop();
    for (const p of procs) p.child.kill('SIGCONT');
    await Promise.all(procs.map((p) => stopPoolPod(p, 'SIGKILL')));
    await sink.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts the sources of a pod that died mid-release on the survivor after the dead-peer bound', async () => {
    const url = await sink.start();
    procs.push(...(await Promise.all(['pool-0', 'pool-1'].map((n) => spawnPoolPod(n, certs.poolTlsDir)))));
    const s = new PoolSessions({
      tls: () => certs.operator,
      identity: OPERATOR_IDENTITY,
      deadPeerBoundMs: DEAD_PEER_BOUND_MS,
      onChange: () => undefined,
      logger: pino({ level: 'silent' }),
    });
    sessions = s;
    const sources: SharedSource[] = Array.from({ length: 8 }, (_, i) => ({
      key: `ns/source-${i}`,
      uid: `uid-${i}`,
      generation: 1,
      interval: `${INTERVAL_MS}ms`,
      paused: false,
      sink: { uri: url.href },
    }));
    for (const src of sources) s.upsertSource(src);
    s.start();
    s.setPods(procs.map((p) => ({ name: p.name, target: p.target })));
    const keys = sources.map((src) => src.key);
    await until(() => keys.every((k) => s.status(k)?.phase === 'running'), 'every source running');
    const onVictim = keys.filter((k) => s.status(k)?.pod === 'pool-1');
    expect(onVictim.length).toBeGreaterThan(0);

    // Frozen, then taken out of the pool: the releases go out and nobody answers them.
    procs[1]!.child.kill('SIGSTOP');
    s.setPods([{ name: 'pool-0', target: procs[0]!.target }]);
    await until(() => onVictim.every((k) => s.status(k)?.phase === 'releasing'), 'releases in flight');
    const killedAt = performance.now();
    await stopPoolPod(procs[1]!, 'SIGKILL');
    await until(
      () => keys.every((k) => s.status(k)?.phase === 'running' && s.status(k)?.pod === 'pool-0'),
      'every source running on the survivor',
      DEAD_PEER_BOUND_MS + 15_000,
    );
    expect(performance.now() - killedAt).toBeGreaterThanOrEqual(DEAD_PEER_BOUND_MS - 50);
    const settled = performance.now();
    await until(
      () =>
        onVictim.every((k) =>
          sink.requests.some((r) => r.arrivedAt > settled && r.event?.source.endsWith(k.split('/')[1]!)),
        ),
      'the moved sources beating on the survivor',
    );
    // No sequence number twice for any source, across the freeze, the kill and the move.
    const seqs = new Map<string, number[]>();
    for (const r of sink.requests) {
      if (!r.event) continue;
      const list = seqs.get(r.event.source) ?? [];
      list.push((r.event.data as HeartbeatData).sequence);
      seqs.set(r.event.source, list);
    }
    for (const list of seqs.values()) expect(new Set(list).size).toBe(list.length);
  });
});
