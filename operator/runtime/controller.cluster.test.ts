// Controllers wired through the Manager against the shared real control plane: the few-lines
// wiring, owned objects enqueueing their controller owner, the generation filter, per-key
// serialisation under a burst of real updates, retries with growing delays, and the probes.
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, eventually, freshNamespace } from '../../test/support/cluster.js';
import type { Manager } from './manager.js';
import { configMapInformer, testManager } from '../../test/support/runtime-manager.js';
import { generationChanged } from './predicates.js';
import { controllerReference } from './owner.js';
import { defaultRateLimiter } from './rate-limiter.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Controller via Manager (real API server)', () => {
  let ns: { name: string; cleanup: () => Promise<void> };
  let mgr: Manager | undefined;

  beforeEach(async () => {
    ns = await freshNamespace('controller');
  });
  afterEach(async () => {
    await mgr?.stop();
    mgr = undefined;
    await ns.cleanup();
  });

  it('reconciles the primary, maps owned objects to their owner, filters status-only updates, and serves probes', async () => {
    const reconciled: string[] = [];
    // --- the wiring a user writes ---
    mgr = testManager({ health: { port: 0, host: '127.0.0.1' } });
    const deployments = mgr.informer({
      resource: { apiVersion: 'apps/v1', plural: 'deployments' },
      namespace: ns.name,
    });
    const secrets = mgr.informer({ resource: { apiVersion: 'v1', plural: 'secrets' }, namespace: ns.name });
    mgr
      .controller({ name: 'deployments', reconcile: async (req) => void reconciled.push(req.name) })
      .for(deployments, generationChanged())
      .owns(secrets, { apiVersion: 'apps/v1', kind: 'Deployment' });
    await mgr.start();
    // --- end of wiring ---

    const kc = adminKubeConfig();
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const d = await apps.createNamespacedDeployment({
      namespace: ns.name,
      body: {
        metadata: { name: 'd1' },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: 'd1' } },
          template: {
            metadata: { labels: { app: 'd1' } },
            spec: { containers: [{ name: 'c', image: 'example.invalid/x' }] },
          },
        },
      },
    });
    await eventually('d1 reconciled', async () => (reconciled.includes('d1') ? true : undefined), 10_000);
    // kube-controller-manager now writes the Deployment's status: those updates are filtered.
    await sleep(1_500);
    const afterCreate = reconciled.length;
    expect(afterCreate).toBeLessThanOrEqual(2);

    await core.createNamespacedSecret({
      namespace: ns.name,
      body: {
        metadata: {
          name: 'owned',
          ownerReferences: [
            controllerReference({
              apiVersion: 'apps/v1',
              kind: 'Deployment',
              metadata: { name: 'd1', uid: d.metadata!.uid! },
            }),
          ],
        },
        stringData: { k: 'v' },
      },
    });
    await core.createNamespacedSecret({
      namespace: ns.name,
      body: { metadata: { name: 'unowned' }, stringData: { k: 'v' } },
    });
    await eventually(
      'owner enqueued by its Secret',
      async () => (reconciled.length > afterCreate ? true : undefined),
      10_000,
    );
    expect(reconciled.slice(afterCreate)).toEqual(['d1']);

    await sleep(800);
    const beforeSpec = reconciled.length;
    await apps.patchNamespacedDeployment(
      { namespace: ns.name, name: 'd1', body: { spec: { minReadySeconds: 5 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await eventually(
      'spec change reconciled',
      async () => (reconciled.length > beforeSpec ? true : undefined),
      10_000,
    );

    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${mgr!.port}${path}`);
      return { status: res.status, text: await res.text() };
    };
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    for (const name of [
      'workqueue_depth',
      'reconcile_duration_seconds',
      'workqueue_retries_total',
      'reconcile_errors_total',
      'informer_watch_restarts_total',
    ]) {
      expect(metrics.text).toContain(name);
    }
    expect(metrics.text).toMatch(
      /reconcile_duration_seconds_count\{controller="deployments",result="success"\} [1-9]/,
    );
  });

  it('never runs two workers on one key, retries a failing key with growing delays, and keeps other keys flowing', async () => {
    const inFlight = new Set<string>();
    let overlaps = 0;
    let maxParallel = 0;
    const badAttempts: number[] = [];
    const goodDone = new Map<string, number>();
    mgr = testManager();
    const cms = configMapInformer(mgr, ns.name);
    mgr
      .controller({
        name: 'configmaps',
        workers: 4,
        rateLimiter: defaultRateLimiter({ baseDelayMs: 150 }),
        reconcile: async (req) => {
          const key = `${req.namespace}/${req.name}`;
          if (inFlight.has(key)) overlaps++;
          inFlight.add(key);
          maxParallel = Math.max(maxParallel, inFlight.size);
          try {
            await sleep(30);
            if (req.name === 'bad') {
              badAttempts.push(Date.now());
              if (badAttempts.length < 4) throw new Error('transient');
            } else if (req.name.startsWith('good')) {
              goodDone.set(req.name, Date.now());
            }
          } finally {
            inFlight.delete(key);
          }
        },
      })
      .for(cms);
    await mgr.start();

    const core = adminKubeConfig().makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'bad' } } });
    await core.createNamespacedConfigMap({
      namespace: ns.name,
      body: { metadata: { name: 'hot' }, data: { v: '0' } },
    });
    const writes: Promise<unknown>[] = [];
    for (let i = 1; i <= 15; i++) {
      writes.push(
        core.patchNamespacedConfigMap(
          { namespace: ns.name, name: 'hot', body: { data: { v: String(i) } } },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        ),
      );
      writes.push(
        core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: `good-${i}` } } }),
      );
    }
    await Promise.all(writes);
    await eventually('bad succeeded', async () => (badAttempts.length >= 4 ? true : undefined), 15_000);
    await eventually('all good keys done', async () => (goodDone.size === 15 ? true : undefined), 10_000);

    expect(overlaps).toBe(0);
    expect(maxParallel).toBeGreaterThan(1);
    const gaps = badAttempts.slice(1).map((t, i) => t - badAttempts[i]!);
    // Each retry waits at least its doubled backoff (150, 300, 600 ms); queueing behind other keys only adds.
    expect(gaps[0]!).toBeGreaterThanOrEqual(150);
    expect(gaps[1]!).toBeGreaterThanOrEqual(300);
    expect(gaps[2]!).toBeGreaterThanOrEqual(600);
    // The good keys were all handled while "bad" was still failing.
    expect(Math.max(...goodDone.values())).toBeLessThan(badAttempts[3]!);
    await sleep(1_000);
    expect(badAttempts.length).toBe(4);
  });
});
