// Runnables bound to leadership on a real Lease: a leader-bound runnable runs only on the replica
// that leads, is aborted the moment the lease is lost, and starts on the successor; one that opts
// out runs on every replica.
import { adminKubeConfig, eventually, freshNamespace } from '../../test/support/cluster.js';
import type { Manager } from './manager.js';
import { testManager } from '../../test/support/runtime-manager.js';
import { clientFromKubeConfig } from './client.js';
import { aborted, type Runnable } from './runnable.js';

const timing = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 250 };

/** A runnable that counts its terms and whether one is running. */
function probe(needLeaderElection: boolean) {
  const state = { starts: 0, stops: 0, running: false };
  const runnable: Runnable = {
    name: needLeaderElection ? 'leader-probe' : 'everywhere-probe',
    needLeaderElection,
    async run(signal) {
      state.starts++;
      state.running = true;
      await aborted(signal);
      state.running = false;
      state.stops++;
    },
  };
  return { runnable, state };
}

describe('Runnables and leadership (real API server)', () => {
  let ns: { name: string; cleanup: () => Promise<void> };
  const managers: Manager[] = [];

  beforeEach(async () => {
    ns = await freshNamespace('runnable');
  });
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.stop()));
    await ns.cleanup();
  });

  function candidate(identity: string) {
    const mgr = testManager({
      gracefulShutdownMs: 1_000,
      leaderElection: { namespace: ns.name, name: 'runnable-test', identity, ...timing },
    });
    managers.push(mgr);
    const leader = probe(true);
    const everywhere = probe(false);
    expect(mgr.add(leader.runnable)).toBe(leader.runnable);
    mgr.add(everywhere.runnable);
    return { mgr, leader: leader.state, everywhere: everywhere.state };
  }

  it('runs a leader-bound runnable only on the leader, and on the successor after a clean stop', async () => {
    const a = candidate('a');
    const b = candidate('b');
    await Promise.all([a.mgr.start(), b.mgr.start()]);
    await eventually(
      'a leader',
      async () => (a.mgr.isLeader() || b.mgr.isLeader() ? true : undefined),
      10_000,
    );
    const [leader, follower] = a.mgr.isLeader() ? [a, b] : [b, a];
    await eventually('runnable on the leader', async () => (leader.leader.running ? true : undefined));
    // Stay a while: the follower's runnable must not start through its retry periods.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(follower.leader.starts).toBe(0);
    expect(leader.everywhere.running && follower.everywhere.running).toBe(true);

    await leader.mgr.stop();
    // Stopped before the lease was released, so the two never overlap.
    expect(leader.leader).toEqual({ starts: 1, stops: 1, running: false });
    expect(leader.everywhere.running).toBe(false);
    await eventually(
      'runnable on the successor',
      async () => (follower.leader.running ? true : undefined),
      10_000,
    );
    expect(follower.leader.starts).toBe(1);
  });

  it('aborts a leader-bound runnable within the renew deadline of losing the lease, and restarts it on regaining it', async () => {
    const a = candidate('a');
    await a.mgr.start();
    await eventually('runnable running', async () => (a.leader.running ? true : undefined), 10_000);

    // Someone else takes the lease for a short while (as after a partition during which ours expired).
    const client = clientFromKubeConfig(adminKubeConfig());
    const path = `/apis/coordination.k8s.io/v1/namespaces/${ns.name}/leases/runnable-test`;
    const current = await client.request<Record<string, unknown> & { spec: object }>('GET', path);
    await client.request('PUT', path, {
      body: { ...current, spec: { ...current.spec, holderIdentity: 'intruder', leaseDurationSeconds: 1 } },
    });
    const taken = Date.now();
    await eventually('runnable aborted', async () => (a.leader.stops === 1 ? true : undefined), 5_000);
    expect(Date.now() - taken).toBeLessThan(timing.renewDeadlineMs);
    expect(a.everywhere.running).toBe(true); // not bound to leadership
    // The intruder's short lease expires: a campaigns again and a new term begins.
    await eventually(
      'runnable restarted',
      async () => (a.leader.starts === 2 && a.leader.running ? true : undefined),
      15_000,
    );
  });
});
