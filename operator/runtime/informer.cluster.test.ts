// The informer against the shared real control plane: adds, updates with the old object, deletes,
// no spurious events on reconnect, and periodic resync.
import { adminKubeConfig, eventually, freshNamespace } from '../../test/support/cluster.js';
import { clientFromKubeConfig, type KubeClient } from './client.js';
import { Informer } from './informer.js';
import type { KubeObject } from './objects.js';

type ConfigMap = KubeObject & { data?: Record<string, string> };
const configMaps = { apiVersion: 'v1', plural: 'configmaps', kind: 'ConfigMap' };
// Only our ConfigMaps: kube-controller-manager adds kube-root-ca.crt to every namespace.
const labels = { 'runtime-test': 'informer' };
const labelSelector = 'runtime-test=informer';

describe('Informer (real API server)', () => {
  let client: KubeClient;
  let ns: { name: string; cleanup: () => Promise<void> };
  const informers: Informer<ConfigMap>[] = [];

  beforeAll(() => {
    client = clientFromKubeConfig(adminKubeConfig());
  });
  beforeEach(async () => {
    ns = await freshNamespace('informer');
  });
  afterEach(async () => {
    await Promise.all(informers.splice(0).map((i) => i.stop()));
    await ns.cleanup();
  });

  const cmPath = (name?: string) => `/api/v1/namespaces/${ns.name}/configmaps${name ? `/${name}` : ''}`;

  it('sees adds, updates with the old object, and deletes', async () => {
    await client.request('POST', cmPath(), { body: { metadata: { name: 'pre', labels }, data: { v: '0' } } });
    const seen: string[] = [];
    const updates: Array<[string | undefined, string | undefined]> = [];
    const informer = new Informer<ConfigMap>(client, {
      resource: configMaps,
      namespace: ns.name,
      labelSelector,
      watchTimeoutSeconds: 5,
    });
    informers.push(informer);
    informer.addHandler({
      onAdd: (o) => seen.push(`add ${o.metadata.name}`),
      onUpdate: (o, n) => {
        seen.push(`update ${n.metadata.name}`);
        updates.push([o.data?.v, n.data?.v]);
      },
      onDelete: (o) => seen.push(`delete ${o.metadata.name}`),
    });
    informer.start();
    await informer.waitForSync();
    expect(informer.lister.get(`${ns.name}/pre`)?.data).toEqual({ v: '0' });
    // Listed objects carry apiVersion/kind like watched ones do.
    expect(informer.lister.get(`${ns.name}/pre`)).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap' });

    await client.request('POST', cmPath(), { body: { metadata: { name: 'a', labels }, data: { v: '1' } } });
    await client.request('PATCH', cmPath('a'), {
      contentType: 'application/merge-patch+json',
      body: { data: { v: '2' } },
    });
    await client.request('DELETE', cmPath('pre'));
    await eventually(
      'delete of pre seen',
      async () => (seen.includes('delete pre') ? true : undefined),
      10_000,
    );
    await eventually('update of a seen', async () => (updates.length > 0 ? true : undefined), 10_000);
    expect(seen).toEqual(['add pre', 'add a', 'update a', 'delete pre']);
    expect(updates).toEqual([['1', '2']]);
    expect(informer.lister.get(`${ns.name}/pre`)).toBeUndefined();
    expect(informer.lister.get(`${ns.name}/a`)?.data).toEqual({ v: '2' });
    // The cache's objects have string timestamps, as the API sends them.
    expect(typeof informer.lister.get(`${ns.name}/a`)?.metadata.creationTimestamp).toBe('string');
  });

  it('resumes after server-side watch timeouts without replaying or losing events', async () => {
    const events: string[] = [];
    const informer = new Informer<ConfigMap>(client, {
      resource: configMaps,
      namespace: ns.name,
      labelSelector,
      watchTimeoutSeconds: 1,
    });
    informers.push(informer);
    informer.addHandler({
      onAdd: (o) => events.push(`add ${o.metadata.name}`),
      onUpdate: (_o, n) => events.push(`update ${n.metadata.name} ${n.data?.v}`),
    });
    informer.start();
    await informer.waitForSync();
    await client.request('POST', cmPath(), { body: { metadata: { name: 'a', labels }, data: { v: '1' } } });
    // Let several watches time out (1 s each) and resume from the last resourceVersion.
    await new Promise((r) => setTimeout(r, 3_500));
    await client.request('PATCH', cmPath('a'), {
      contentType: 'application/merge-patch+json',
      body: { data: { v: '2' } },
    });
    await eventually('update seen', async () => (events.length >= 2 ? true : undefined), 10_000);
    expect(informer.stats.watches).toBeGreaterThanOrEqual(3);
    expect(informer.stats.lists).toBe(1);
    expect(events).toEqual(['add a', 'update a 2']);
  });

  it('resyncs periodically with the same object as old and new', async () => {
    await client.request('POST', cmPath(), { body: { metadata: { name: 'a', labels }, data: { v: '1' } } });
    let resyncs = 0;
    const informer = new Informer<ConfigMap>(client, {
      resource: configMaps,
      namespace: ns.name,
      labelSelector,
      resyncPeriodMs: 200,
    });
    informers.push(informer);
    informer.addHandler({ onUpdate: (o, n) => void (o === n && resyncs++) });
    informer.start();
    await informer.waitForSync();
    await eventually('two resyncs', async () => (resyncs >= 2 ? true : undefined), 5_000);
    expect(resyncs).toBeGreaterThanOrEqual(2);
  });
});
