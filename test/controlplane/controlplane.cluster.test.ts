// The foundation's promises about the real control plane: version, CRD round trip with a watch,
// garbage collection by kube-controller-manager, and RBAC for a non-admin identity.
import * as k8s from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminKubeConfig, eventually, freshNamespace, kubectl } from '../support/cluster.js';
import { kubeconfigForServiceAccount, kubeconfigForUser } from '../support/identities.js';
import { repoRoot } from './controlplane.js';

const versions = Object.fromEntries(
  readFileSync(join(repoRoot, 'test/controlplane/versions.env'), 'utf8')
    .split('\n')
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => l.split('=') as [string, string]),
);

const widgetCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.foundation.test' },
  spec: {
    group: 'foundation.test',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: { spec: { type: 'object', properties: { size: { type: 'integer', minimum: 1 } } } },
          },
        },
      },
    ],
  },
};

describe('the real control plane', () => {
  const kc = adminKubeConfig();
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  beforeEach(async () => {
    ns = await freshNamespace('foundation');
  });
  afterEach(async () => {
    await ns.cleanup();
  });

  it('reports the Kubernetes version it was built from, to the server and to kubectl alike', async () => {
    const info = await kc.makeApiClient(k8s.VersionApi).getCode();
    expect(info.gitVersion).toBe(versions.KUBE_VERSION);
    const client = JSON.parse(kubectl(['version', '--client', '-o', 'json'])) as {
      clientVersion: { gitVersion: string };
    };
    expect(client.clientVersion.gitVersion).toBe(versions.KUBE_VERSION);
  });

  it('installs a CRD, creates and reads a custom resource, and watches it change', async () => {
    const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    await ext.createCustomResourceDefinition({ body: widgetCrd }).catch((err: k8s.ApiException<unknown>) => {
      if (err.code !== 409) throw err; // already installed by an earlier run of this file
    });
    await eventually('the Widget CRD to be established', async () => {
      const crd = await ext.readCustomResourceDefinition({ name: widgetCrd.metadata.name });
      return (
        crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') || undefined
      );
    });

    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const ref = { group: 'foundation.test', version: 'v1', namespace: ns.name, plural: 'widgets' };
    await custom.createNamespacedCustomObject({
      ...ref,
      body: { apiVersion: 'foundation.test/v1', kind: 'Widget', metadata: { name: 'w1' }, spec: { size: 1 } },
    });
    const read = (await custom.getNamespacedCustomObject({ ...ref, name: 'w1' })) as {
      spec: { size: number };
    };
    expect(read.spec.size).toBe(1);

    // The schema is enforced by the server.
    await expect(
      custom.createNamespacedCustomObject({
        ...ref,
        body: {
          apiVersion: 'foundation.test/v1',
          kind: 'Widget',
          metadata: { name: 'bad' },
          spec: { size: 0 },
        },
      }),
    ).rejects.toMatchObject({ code: 422 });

    const seen: Array<{ type: string; size: number }> = [];
    const watch = new k8s.Watch(kc);
    const request = await watch.watch(
      `/apis/foundation.test/v1/namespaces/${ns.name}/widgets`,
      {},
      (type, obj: { spec: { size: number } }) => seen.push({ type, size: obj.spec.size }),
      () => undefined,
    );
    try {
      await custom.patchNamespacedCustomObject(
        { ...ref, name: 'w1', body: { spec: { size: 2 } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      await eventually('the watch to deliver the update', async () =>
        seen.some((e) => e.type === 'MODIFIED' && e.size === 2) ? true : undefined,
      );
    } finally {
      request.abort();
    }
  });

  it('garbage-collects an owned ConfigMap when its owner is deleted (kube-controller-manager runs)', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const owner = await core.createNamespacedConfigMap({
      namespace: ns.name,
      body: { metadata: { name: 'owner' } },
    });
    await core.createNamespacedConfigMap({
      namespace: ns.name,
      body: {
        metadata: {
          name: 'owned',
          ownerReferences: [
            {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              name: 'owner',
              uid: owner.metadata!.uid!,
              controller: true,
            },
          ],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ namespace: ns.name, name: 'owner' });
    await eventually(
      'the owned ConfigMap to be garbage-collected',
      async () => {
        try {
          await core.readNamespacedConfigMap({ namespace: ns.name, name: 'owned' });
          return undefined;
        } catch (err) {
          return (err as k8s.ApiException<unknown>).code === 404 ? true : undefined;
        }
      },
      60_000,
    );
  });

  it('refuses a non-admin identity what RBAC does not grant, and allows what it does', async () => {
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns.name,
      body: {
        metadata: { name: 'configmap-reader' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
      },
    });
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name: 'reader' } } });
    await rbac.createNamespacedRoleBinding({
      namespace: ns.name,
      body: {
        metadata: { name: 'reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns.name }],
      },
    });
    const saConfig = new k8s.KubeConfig();
    saConfig.loadFromFile(await kubeconfigForServiceAccount(ns.name, 'reader'));
    const asReader = saConfig.makeApiClient(k8s.CoreV1Api);

    const list = await asReader.listNamespacedConfigMap({ namespace: ns.name });
    expect(Array.isArray(list.items)).toBe(true);
    await expect(
      asReader.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'nope' } } }),
    ).rejects.toMatchObject({ code: 403 });
    await expect(asReader.listNamespacedSecret({ namespace: ns.name })).rejects.toMatchObject({ code: 403 });
    await expect(asReader.listNamespacedConfigMap({ namespace: 'default' })).rejects.toMatchObject({
      code: 403,
    });

    // A certificate-authenticated user with no bindings at all is refused everything but discovery.
    const userConfig = new k8s.KubeConfig();
    userConfig.loadFromFile(await kubeconfigForUser('nobody', ['no-group']));
    await expect(
      userConfig.makeApiClient(k8s.CoreV1Api).listNamespacedConfigMap({ namespace: ns.name }),
    ).rejects.toMatchObject({ code: 403 });
  });
});
