// Leader election between two managers on a real Lease: exactly one reconciles; when it stops
// (releasing the lease, or vanishing without releasing) the other takes over in time.
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, eventually, freshNamespace } from '../../test/support/cluster.js';
import type { Manager } from './manager.js';
import { configMapInformer, testManager } from '../../test/support/runtime-manager.js';
import { ApiError, clientFromKubeConfig } from './client.js';

const timing = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 250 };

describe('Leader election (real API server)', () => {
  let ns: { name: string; cleanup: () => Promise<void> };
  const managers: Manager[] = [];

  beforeEach(async () => {
    ns = await freshNamespace('leader');
  });
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.stop()));
    await ns.cleanup();
  });

  function candidate(identity: string, seen: Array<[string, string]>, releaseOnCancel = true): Manager {
    const mgr = testManager({
      gracefulShutdownMs: 1_000,
      leaderElection: { namespace: ns.name, name: 'runtime-test', identity, releaseOnCancel, ...timing },
    });
    const cms = configMapInformer(mgr, ns.name);
    mgr.controller({ name: 'cm', reconcile: async (req) => void seen.push([identity, req.name]) }).for(cms);
    managers.push(mgr);
    return mgr;
  }

  const core = () => adminKubeConfig().makeApiClient(k8s.CoreV1Api);
  const lease = async () =>
    (
      await clientFromKubeConfig(adminKubeConfig()).request<{
        spec: { holderIdentity?: string; leaseTransitions?: number };
      }>('GET', `/apis/coordination.k8s.io/v1/namespaces/${ns.name}/leases/runtime-test`)
    ).spec;

  async function takeoverAfterStop(releaseOnCancel: boolean): Promise<number> {
    const seen: Array<[string, string]> = [];
    const a = candidate('a', seen, releaseOnCancel);
    const b = candidate('b', seen, releaseOnCancel);
    await Promise.all([a.start(), b.start()]);
    await eventually('a leader', async () => (a.isLeader() || b.isLeader() ? true : undefined), 10_000);
    const [leader, follower] = a.isLeader() ? [a, b] : [b, a];
    const leaderId = leader === a ? 'a' : 'b';
    const followerId = leader === a ? 'b' : 'a';
    expect((await lease()).holderIdentity).toBe(leaderId);

    for (const name of ['one', 'two', 'three'])
      await core().createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name } } });
    await eventually('three reconciled', async () => (seen.length >= 3 ? true : undefined), 10_000);
    // Stay a while: the follower must stay idle through many of its retry periods.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(seen.every(([who]) => who === leaderId)).toBe(true);
    expect(follower.isLeader()).toBe(false);

    const stopped = Date.now();
    await leader.stop();
    await eventually('follower takes over', async () => (follower.isLeader() ? true : undefined), 10_000);
    const takeoverMs = Date.now() - stopped;
    // Level-triggered catch-up: the new leader reconciles everything in its cache.
    await eventually(
      'new leader reconciled',
      async () => (seen.filter(([who]) => who === followerId).length >= 3 ? true : undefined),
      10_000,
    );
    await core().createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'four' } } });
    await eventually('four reconciled by the new leader', async () =>
      seen.some(([who, n]) => who === followerId && n === 'four') ? true : undefined,
    );
    expect(seen.some(([who, n]) => who === leaderId && n === 'four')).toBe(false);
    expect((await lease()).holderIdentity).toBe(followerId);
    return takeoverMs;
  }

  it('exactly one of two instances reconciles; a clean stop releases the lease and the other leads at once', async () => {
    const takeoverMs = await takeoverAfterStop(true);
    // Released: no waiting for expiry, only the follower's next retry (250 ms, jittered up to 2.2x).
    expect(takeoverMs).toBeLessThan(timing.leaseDurationMs);
  });

  it('when the leader vanishes without releasing, the other takes over within the lease duration', async () => {
    const takeoverMs = await takeoverAfterStop(false);
    // Expiry counts from the follower's last observed renewal (up to one jittered retry, 550 ms,
    // before the stop) and is noticed at its next retry: so lease duration give or take ~0.6 s, plus
    // the follower's first reconcile; the upper bound leaves room for a loaded 2-core machine while
    // still telling expiry-driven takeover (about 2 s) from a stuck one.
    expect(takeoverMs).toBeGreaterThanOrEqual(timing.leaseDurationMs - 1_000);
    expect(takeoverMs).toBeLessThan(timing.leaseDurationMs + 2_500);
  });

  it('a leader that loses its lease stops reconciling promptly, aborting in-flight work', async () => {
    const seen: Array<[string, string]> = [];
    let aborted = 0;
    const mgr = testManager({
      leaderElection: { namespace: ns.name, name: 'runtime-test', identity: 'a', ...timing },
    });
    managers.push(mgr);
    const cms = configMapInformer(mgr, ns.name);
    mgr
      .controller({
        name: 'cm',
        reconcile: (req, ctx) =>
          new Promise<void>((resolve) => {
            seen.push(['a', req.name]);
            if (req.name !== 'slow') return resolve();
            // A long reconcile: only the lost lease ends it.
            ctx.signal.addEventListener('abort', () => {
              aborted++;
              resolve();
            });
          }),
      })
      .for(cms);
    await mgr.start();
    await eventually('leading', async () => (mgr.isLeader() ? true : undefined), 10_000);
    await core().createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'slow' } } });
    await eventually('slow in flight', async () => (seen.length > 0 ? true : undefined), 10_000);

    // Someone else takes the lease (as after a partition during which ours expired).
    const client = clientFromKubeConfig(adminKubeConfig());
    const path = `/apis/coordination.k8s.io/v1/namespaces/${ns.name}/leases/runtime-test`;
    // Read-modify-write as a competing client would: the leader renews every 250 ms, so a PUT
    // may meet a newer resourceVersion (409); read again and retry.
    for (let attempt = 1; ; attempt++) {
      const current = await client.request<Record<string, unknown> & { spec: object }>('GET', path);
      try {
        await client.request('PUT', path, {
          body: {
            ...current,
            spec: { ...current.spec, holderIdentity: 'intruder', leaseDurationSeconds: 60 },
          },
        });
        break;
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 409) || attempt >= 20) throw err;
      }
    }
    const taken = Date.now();
    await eventually(
      'stopped leading',
      async () => (!mgr.isLeader() && aborted === 1 ? true : undefined),
      5_000,
    );
    expect(Date.now() - taken).toBeLessThan(timing.renewDeadlineMs);
    await core().createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'after' } } });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(seen.map(([, n]) => n)).not.toContain('after');
  });

  it('on SIGTERM stops taking work, lets the in-flight reconcile finish, releases the lease, then exits 0', async () => {
    const finished: string[] = [];
    let abortedCount = 0;
    const mgr = testManager({
      gracefulShutdownMs: 5_000,
      leaderElection: { namespace: ns.name, name: 'runtime-test', identity: 'a', ...timing },
    });
    managers.push(mgr);
    // Only our ConfigMaps (kube-controller-manager adds kube-root-ca.crt to every namespace).
    const cms = configMapInformer(mgr, ns.name, 'runtime-test=yes');
    let started = 0;
    mgr
      .controller({
        name: 'cm',
        reconcile: async (req, ctx) => {
          started++;
          await new Promise((r) => setTimeout(r, 700));
          if (ctx.signal.aborted) abortedCount++;
          finished.push(req.name);
        },
      })
      .for(cms);
    await mgr.start();
    await eventually('leading', async () => (mgr.isLeader() ? true : undefined), 10_000);
    await core().createNamespacedConfigMap({
      namespace: ns.name,
      body: { metadata: { name: 'inflight', labels: { 'runtime-test': 'yes' } } },
    });
    await eventually('reconcile in flight', async () => (started > 0 ? true : undefined), 10_000);

    const exitCode = new Promise<number>((resolve) => mgr.handleSignals(resolve));
    process.emit('SIGTERM');
    // Work arriving during shutdown is not taken.
    await core().createNamespacedConfigMap({
      namespace: ns.name,
      body: { metadata: { name: 'late', labels: { 'runtime-test': 'yes' } } },
    });
    expect(await exitCode).toBe(0);
    expect(finished).toEqual(['inflight']);
    expect(abortedCount).toBe(0);
    expect(started).toBe(1);
    expect((await lease()).holderIdentity ?? '').toBe('');
  });
});
