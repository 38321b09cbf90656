// The operator's pool sessions against real pool pod processes over real mTLS, with a real HTTP
// sink: placement reached, a live scale-out and a SIGKILLed pod handed off without any source
// emitting from two pods at once or repeating a sequence number; a config change reaches one source.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { heartbeatSource } from '../../contract/cloudevents.js';
import { OPERATOR_IDENTITY } from '../../contract/identities.js';
import { DevSink, type ReceivedEvent } from '../../adapter/dev-sink.js';
import type { HeartbeatData } from '../../adapter/heartbeat.js';
import { issuePoolCerts, type PoolCerts } from '../../adapter/pool/testkit.js';
import { place } from '../../operator/pool/placement.js';
import { spawnPoolPod, stopPoolPod, type PoolProcess } from './pool-process.js';
import { PoolSessions, type SharedSource } from '../../operator/pool/pool-sessions.js';

const INTERVAL_MS = 300;
const DEAD_PEER_BOUND_MS = 2_000;

const keyOf = (r: ReceivedEvent) => {
  const m = /\/namespaces\/([^/]+)\/samplesources\/([^/]+)$/.exec(r.event?.source ?? '');
  return m ? `${m[1]}/${m[2]}` : '?';
};
const data = (r: ReceivedEvent) => r.event!.data as HeartbeatData;

async function until(predicate: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('pool sessions: placement, live resize and a killed pod over real pool processes', () => {
  let dir: string;
  let certs: PoolCerts;
  let sink: DevSink;
  let sessions: PoolSessions;
  const procs: PoolProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pool-sessions-'));
    certs = await issuePoolCerts(dir);
    sink = new DevSink();
  });
  afterAll(async () => {
    await sessions?.stop();
    await Promise.all(procs.map((p) => stopPoolPod(p, 'SIGKILL')));
    await sink.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps every source sending through 3 → 4 pods and a SIGKILL, never from two pods at once', async () => {
    const url = await sink.start();
    expect(heartbeatSource('a', 'b')).toMatch(/\/namespaces\/a\/samplesources\/b$/);
    procs.push(
      ...(await Promise.all(['pool-0', 'pool-1', 'pool-2'].map((n) => spawnPoolPod(n, certs.poolTlsDir)))),
    );
    const changed = new Set<string>();
    sessions = new PoolSessions({
      tls: () => certs.operator,
      identity: OPERATOR_IDENTITY,
      deadPeerBoundMs: DEAD_PEER_BOUND_MS,
      onChange: (key) => changed.add(key),
      logger: pino({ level: 'silent' }),
    });
    const sources: SharedSource[] = Array.from({ length: 30 }, (_, i) => ({
      key: `ns-${i % 3}/source-${i}`,
      uid: `uid-${i}`,
      generation: 1,
      interval: `${INTERVAL_MS}ms`,
      paused: false,
      sink: { uri: url.href },
    }));
    for (const s of sources) sessions.upsertSource(s);
    sessions.start();
    sessions.setPods(procs.map((p) => ({ name: p.name, target: p.target })));
    const keys = sources.map((s) => s.key);
    const convergedOn = (pods: string[]) => {
      const want = place(keys, pods);
      return keys.every(
        (k) => sessions.status(k)?.phase === 'running' && sessions.status(k)?.pod === want.get(k),
      );
    };
    await until(() => convergedOn(['pool-0', 'pool-1', 'pool-2']), 'placement on 3 pods');
    expect(changed.size).toBe(30);

    // Live scale-out.
    const fourth = await spawnPoolPod('pool-3', certs.poolTlsDir);
    procs.push(fourth);
    sessions.setPods(procs.map((p) => ({ name: p.name, target: p.target })));
    await until(() => convergedOn(['pool-0', 'pool-1', 'pool-2', 'pool-3']), 'placement on 4 pods');

    // A pod killed outright; the Pod watch has not noticed yet: the dead-peer bound must act.
    const killedAt = performance.now();
    await stopPoolPod(procs[1]!, 'SIGKILL');
    await until(() => convergedOn(['pool-0', 'pool-2', 'pool-3']), 'placement on the survivors');
    expect(performance.now() - killedAt).toBeGreaterThanOrEqual(DEAD_PEER_BOUND_MS);
    const settled = performance.now();
    await until(
      () =>
        keys.every((k) => sink.requests.some((r) => r.arrivedAt > settled + INTERVAL_MS && keyOf(r) === k)),
      'every source beating after the kill',
    );

    // An interval change on one source reaches only it.
    sessions.upsertSource({ ...sources[0]!, generation: 2, interval: '1s' });
    await until(() => sessions.status(sources[0]!.key)?.appliedGeneration === 2, 'generation 2 applied');
    for (const k of keys.slice(1)) expect(sessions.status(k)?.appliedGeneration).toBe(1);

    const byKey = new Map<string, ReceivedEvent[]>();
    for (const r of sink.accepted) byKey.set(keyOf(r), [...(byKey.get(keyOf(r)) ?? []), r]);
    expect([...byKey.keys()].sort()).toEqual([...keys].sort());
    for (const [key, events] of byKey) {
      const sequences = events.map((r) => data(r).sequence);
      // No sequence number twice.
      expect({ key, repeated: sequences.length - new Set(sequences).size }).toEqual({ key, repeated: 0 });
      // Never two emitters at once: whatever a pod sent arrived before, and is numbered below,
      // anything another pod sent afterwards (one pod's own concurrent sends may arrive reordered).
      const crossed = events.flatMap((e1, i) =>
        events
          .slice(i + 1)
          .filter((e2) => data(e2).podName !== data(e1).podName && data(e2).sequence < data(e1).sequence)
          .map(
            (e2) => `${data(e1).sequence}@${data(e1).podName} then ${data(e2).sequence}@${data(e2).podName}`,
          ),
      );
      expect({ key, crossed }).toEqual({ key, crossed: [] });
      const gaps = events.slice(1).map((r, i) => r.arrivedAt - events[i]!.arrivedAt);
      // Two intervals plus the dead-peer bound, plus 1.5 s for keepalive detection on a busy machine.
      expect({ key, gap: Math.max(...gaps) <= 2 * INTERVAL_MS + DEAD_PEER_BOUND_MS + 4_000 + 1_500 }).toEqual(
        { key, gap: true },
      );
    }
  });
});
