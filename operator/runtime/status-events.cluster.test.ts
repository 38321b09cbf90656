// Status writes and events against the real API server: conditions written through the status
// subresource keep lastTransitionTime (and make no write) when nothing changed, conflicts are
// retried, SSA works, and a hot loop of events is aggregated into few Event objects.
import { randomBytes } from 'node:crypto';
import { adminKubeConfig, eventually, freshNamespace } from '../../test/support/cluster.js';
import { clientFromKubeConfig, type KubeClient } from './client.js';
import { ConditionSet, type ConditionedStatus } from './conditions.js';
import { applyStatus, updateStatus } from './status.js';
import { EventRecorder } from './events.js';
import { RuntimeMetrics } from './metrics.js';
import type { KubeObject } from './objects.js';

type Widget = KubeObject & {
  apiVersion: string;
  kind: string;
  spec?: { size?: number };
  status?: ConditionedStatus & { note?: string };
};

const group = `rt${randomBytes(3).toString('hex')}.example.com`;
const widgets = { apiVersion: `${group}/v1`, plural: 'widgets', kind: 'Widget' };
const conditions = ConditionSet.living('Deployed');

describe('status and events (real API server)', () => {
  let client: KubeClient;
  let ns: { name: string; cleanup: () => Promise<void> };

  beforeAll(async () => {
    client = clientFromKubeConfig(adminKubeConfig());
    await client.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
      body: {
        metadata: { name: `widgets.${group}` },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              subresources: { status: {} },
              schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
            },
          ],
        },
      },
    });
    await eventually('CRD established', async () => {
      const crd = await client.request<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(
        'GET',
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`,
      );
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')
        ? true
        : undefined;
    });
    // Discovery of the new group can lag a moment behind Established.
    await eventually('CRD served', async () =>
      (await client.request('GET', `/apis/${group}/v1/widgets`)) ? true : undefined,
    );
  });
  afterAll(async () => {
    await client
      .request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`)
      .catch(() => undefined);
  });
  beforeEach(async () => {
    ns = await freshNamespace('status');
  });
  afterEach(async () => ns.cleanup());

  const create = (name: string) =>
    client.request<Widget>('POST', `/apis/${group}/v1/namespaces/${ns.name}/widgets`, {
      body: { apiVersion: widgets.apiVersion, kind: 'Widget', metadata: { name }, spec: { size: 1 } },
    });

  it('keeps lastTransitionTime and writes nothing when conditions did not change; moves it on a real change', async () => {
    await create('w');
    const req = { namespace: ns.name, name: 'w' };
    let now = new Date('2026-01-01T00:00:00Z');
    const markDeployed = (deployed: boolean) => (w: Widget) => {
      const status = w.status ?? {};
      const m = conditions.manage(status, () => now);
      m.initialize();
      if (deployed) m.markTrue('Deployed');
      else m.markFalse('Deployed', 'Unavailable', 'no replicas');
      return status;
    };
    const first = await updateStatus<Widget>(client, widgets, req, markDeployed(true));
    expect(first.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });

    now = new Date('2026-01-01T01:00:00Z');
    const second = await updateStatus<Widget>(client, widgets, req, markDeployed(true));
    expect(second.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    expect(second.status?.conditions).toEqual(first.status?.conditions);

    const third = await updateStatus<Widget>(client, widgets, req, markDeployed(false));
    expect(third.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'Unavailable',
      lastTransitionTime: '2026-01-01T01:00:00Z',
    });
    // The spec is untouched by status writes.
    expect(third.spec).toEqual({ size: 1 });
  });

  it('retries on a conflict by re-reading and recomputing', async () => {
    await create('w');
    const objPath = `/apis/${group}/v1/namespaces/${ns.name}/widgets/w`;
    // A client whose first status write is preceded by someone else's write: a real 409.
    let injected = false;
    const racy: KubeClient = {
      stream: (path, init) => client.stream(path, init),
      async request<T>(
        method: string,
        path: string,
        init?: Parameters<KubeClient['request']>[2],
      ): Promise<T> {
        if (method === 'PATCH' && path.endsWith('/status') && !injected) {
          injected = true;
          await client.request('PATCH', objPath, {
            contentType: 'application/merge-patch+json',
            body: { metadata: { labels: { touched: 'yes' } } },
          });
        }
        return client.request<T>(method, path, init);
      },
    };
    let calls = 0;
    const result = await updateStatus<Widget>(racy, widgets, { namespace: ns.name, name: 'w' }, (w) => {
      calls++;
      return {
        ...w.status,
        note: `attempt ${calls}`,
        seenLabels: w.metadata.labels ?? {},
      } as Widget['status'];
    });
    expect(injected).toBe(true);
    expect(calls).toBe(2);
    expect(result.status).toMatchObject({ note: 'attempt 2', seenLabels: { touched: 'yes' } });
    expect(result.metadata.labels).toEqual({ touched: 'yes' });
  });

  it('server-side applies status with a field manager', async () => {
    const w = await create('w');
    const applied = await applyStatus<Widget>(client, widgets, w, { note: 'via SSA' }, 'runtime-test');
    expect(applied.status?.note).toBe('via SSA');
    expect(JSON.stringify(applied.metadata.managedFields)).toContain('runtime-test');
  });

  it('aggregates a hot loop of identical events into one Event and rate-limits a flood of distinct ones', async () => {
    const w = await create('w');
    const metrics = new RuntimeMetrics();
    const recorder = new EventRecorder(client, { component: 'runtime-test', burst: 5, metrics });
    for (let i = 0; i < 200; i++) recorder.warning(w, 'HotLoop', 'same thing again');
    for (let i = 0; i < 20; i++) recorder.normal(w, `Distinct${i}`, `message ${i}`);
    await recorder.flush();
    const list = await client.request<{
      items: Array<{ reason: string; count: number; involvedObject: { uid: string } }>;
    }>('GET', `/api/v1/namespaces/${ns.name}/events`);
    const hot = list.items.filter((e) => e.reason === 'HotLoop');
    expect(hot).toHaveLength(1);
    expect(hot[0]!.count).toBe(200);
    expect(hot[0]!.involvedObject.uid).toBe(w.metadata.uid);
    // Burst 5: HotLoop took one token, four distinct events got through, the rest were dropped.
    expect(list.items.filter((e) => e.reason.startsWith('Distinct'))).toHaveLength(4);
    const dropped = (await metrics.eventsAggregated.get()).values.find((v) => v.labels.outcome === 'dropped');
    expect(dropped?.value).toBe(16);
  });
});
