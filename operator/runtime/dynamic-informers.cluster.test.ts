// Tracked sink refs on the real API server: a custom Addressable CRD, watched on its first
// reference and unwatched after its last; address changes enqueue the referencing key within a
// second; a kind the identity may not read is reported Forbidden until a ClusterRole labelled
// duck.knative.dev/addressable=true is aggregated (by the real kube-controller-manager) into the
// resolver role that config/ ships.
import * as k8s from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { adminKubeConfig, eventually, freshNamespace } from '../../test/support/cluster.js';
import { addressableCrd } from '../../test/support/addressable-crd.js';
import { kubeconfigForUser } from '../../test/support/identities.js';
import { clientFromKubeConfig, type KubeClient } from './client.js';
import { DynamicInformers } from './dynamic-informers.js';
import { Tracker, type ObjectReference } from './tracker.js';

const suffix = randomBytes(3).toString('hex');
const group = `sinks${suffix}.test.example`;
const apiVersion = `${group}/v1`;
const plural = 'widgetsinks';
const kind = 'WidgetSink';

const crd = addressableCrd(group, plural, kind);

describe('Tracker + DynamicInformers (real API server, custom Addressable)', () => {
  let admin: KubeClient;
  let ns: { name: string; cleanup: () => Promise<void> };
  const stops: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    admin = clientFromKubeConfig(adminKubeConfig());
    await admin.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
    await eventually('the CRD to be served', async () => {
      const list = await admin
        .request<{ resources?: Array<{ name: string }> }>('GET', `/apis/${apiVersion}`)
        .catch(() => undefined);
      return list?.resources?.some((r) => r.name === plural) ? true : undefined;
    });
    ns = await freshNamespace('tracker');
  });
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((s) => s()));
  });
  afterAll(async () => {
    await ns?.cleanup();
    await admin?.request(
      'DELETE',
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${plural}.${group}`,
    );
  });

  const path = (name?: string, sub?: string) =>
    `/apis/${apiVersion}/namespaces/${ns.name}/${plural}${name ? `/${name}` : ''}${sub ? `/${sub}` : ''}`;
  const ref = (name: string): ObjectReference => ({ apiVersion, kind, namespace: ns.name, name });

  function wire(client: KubeClient) {
    const enqueued: Array<{ key: string; at: number }> = [];
    const tracker = new Tracker({
      enqueue: (key) => enqueued.push({ key, at: performance.now() }),
      watcher: { watch: (k) => informers.watch(k), unwatch: (k) => informers.unwatch(k) },
    });
    const informers = new DynamicInformers(client, { onEvent: (r) => tracker.onChanged(r) });
    stops.push(() => informers.stop());
    return { tracker, informers, enqueued };
  }

  async function enqueuedAfter(enqueued: Array<{ key: string; at: number }>, since: number, key: string) {
    return eventually(
      `${key} enqueued`,
      async () => enqueued.find((e) => e.at >= since && e.key === key),
      5_000,
    );
  }

  it('resolves the plural by discovery, not by guessing', async () => {
    const { informers } = wire(admin);
    expect(await informers.resolve({ apiVersion, kind })).toMatchObject({ plural, namespaced: true });
    expect(await informers.resolve({ apiVersion, kind: 'Nope' })).toMatchObject({ reason: 'NotServed' });
    expect(await informers.resolve({ apiVersion: 'none.test.example/v9', kind })).toMatchObject({
      reason: 'NotServed',
    });
  });

  it('follows an Addressable appearing, changing its address and going, each within a second', async () => {
    const { tracker, informers, enqueued } = wire(admin);
    tracker.track(`${ns.name}/src`, [ref('display')]);
    tracker.track(`${ns.name}/unrelated`, [ref('other')]);
    await informers.settled();
    expect(informers.watchedKinds()).toEqual([`${apiVersion}|${kind}`]);

    // The first event of a watch on a CRD created moments ago can take the API server ~2 s (its
    // watch cache starts); wait for one such event on another object, then measure steady state.
    let since = performance.now();
    await admin.request('POST', path(), { body: { apiVersion, kind, metadata: { name: 'other' } } });
    await enqueuedAfter(enqueued, since, `${ns.name}/unrelated`);

    since = performance.now();
    await admin.request('POST', path(), { body: { apiVersion, kind, metadata: { name: 'display' } } });
    let hit = await enqueuedAfter(enqueued, since, `${ns.name}/src`);
    expect(hit.at - since).toBeLessThan(1_000);

    since = performance.now();
    const current = await admin.request<{ metadata: { resourceVersion: string } }>('GET', path('display'));
    await admin.request('PUT', path('display', 'status'), {
      body: {
        apiVersion,
        kind,
        metadata: { name: 'display', resourceVersion: current.metadata.resourceVersion },
        status: { address: { url: 'http://display.example/' } },
      },
    });
    hit = await enqueuedAfter(enqueued, since, `${ns.name}/src`);
    expect(hit.at - since).toBeLessThan(1_000);

    since = performance.now();
    await admin.request('DELETE', path('display'));
    hit = await enqueuedAfter(enqueued, since, `${ns.name}/src`);
    expect(hit.at - since).toBeLessThan(1_000);
    expect(enqueued.filter((e) => e.key === `${ns.name}/unrelated`)).toHaveLength(1);

    tracker.untrack(`${ns.name}/src`);
    expect(informers.watchedKinds()).toHaveLength(1);
    tracker.untrack(`${ns.name}/unrelated`);
    expect(informers.watchedKinds()).toEqual([]);
  });

  it('reports a kind the identity may not read as Forbidden, and watches it once an addressable ClusterRole is aggregated', async () => {
    const user = `tracker-${suffix}`;
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(await kubeconfigForUser(user));
    const { tracker, informers } = wire(clientFromKubeConfig(kc));
    tracker.track(`${ns.name}/src`, [ref('display')]);
    await informers.settled();
    expect(informers.watchedKinds()).toEqual([]);
    expect(informers.problem({ apiVersion, kind })).toMatchObject({
      reason: 'Forbidden',
      message: expect.stringContaining('duck.knative.dev/addressable: "true"') as unknown,
    });

    // The aggregated role exactly as config/ ships it, bound to this user, plus one labelled role.
    const shipped = k8s
      .loadAllYaml(readFileSync(new URL('../../config/201-clusterrole.yaml', import.meta.url), 'utf8'))
      .find(
        (d: { metadata?: { name?: string } }) => d.metadata?.name === 'samplesource-addressable-resolver',
      ) as {
      aggregationRule: unknown;
    };
    const resolver = `addressable-resolver-${suffix}`;
    const rbac = '/apis/rbac.authorization.k8s.io/v1';
    await admin.request('POST', `${rbac}/clusterroles`, {
      body: { metadata: { name: resolver }, aggregationRule: shipped.aggregationRule },
    });
    await admin.request('POST', `${rbac}/clusterrolebindings`, {
      body: {
        metadata: { name: resolver },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: resolver },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
      },
    });
    await admin.request('POST', `${rbac}/clusterroles`, {
      body: {
        metadata: {
          name: `widgetsinks-addressable-${suffix}`,
          labels: { 'duck.knative.dev/addressable': 'true' },
        },
        rules: [{ apiGroups: [group], resources: [plural], verbs: ['get', 'list', 'watch'] }],
      },
    });
    stops.push(async () => {
      for (const name of [resolver, `widgetsinks-addressable-${suffix}`])
        await admin.request('DELETE', `${rbac}/clusterroles/${name}`).catch(() => undefined);
      await admin.request('DELETE', `${rbac}/clusterrolebindings/${resolver}`).catch(() => undefined);
    });
    await eventually(
      'the aggregated role to let the watch start',
      async () => {
        tracker.track(`${ns.name}/src`, [ref('display')]);
        await informers.settled();
        return informers.watchedKinds().length === 1 ? true : undefined;
      },
      30_000,
    );
    expect(informers.problem({ apiVersion, kind })).toBeUndefined();
  });
});
