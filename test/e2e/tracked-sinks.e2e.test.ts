// Sinks as a Knative user meets them, end to end through operator and adapter pods: a custom
// Addressable (a CRD with status.address.url, readable through a ClusterRole labelled
// duck.knative.dev/addressable=true, as Knative's own kinds are) is watched, so moving its address
// moves the heartbeats with no other change, live over the control stream (no pod restarts, no
// rollout); an address that goes away and a kind the operator may
// not read turn SinkProvided False with a reason that says so; and an HTTPS sink is verified with
// exactly the CAs of spec.sink.CACerts: the right CA delivers, a wrong one fails visibly (logged,
// nothing delivered, SinkReachable False naming the certificate failure).
import * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { DevSink } from '../../adapter/dev-sink.js';
import { createCertificateAuthority, type CertificateAuthority } from '../../control/pki.js';
import { addressableCrd } from '../support/addressable-crd.js';
import { adminKubeConfig, eventually, freshNamespace } from '../support/cluster.js';
import { startSystem, type Platform } from './system.js';
import {
  adapterPods,
  condition,
  createSource,
  getSource,
  isTrue,
  patchSpec,
  waitForSource,
} from './source-helpers.js';

const suffix = randomBytes(3).toString('hex');
const group = `sinks${suffix}.e2e.example`;
const apiVersion = `${group}/v1`;
const heartbeatSource = (ns: string, name: string) => `/apis/v1/namespaces/${ns}/samplesources/${name}`;

/** Heartbeats of `source` that `sink` accepted, in arrival order. */
const accepted = (sink: DevSink, source: string) =>
  sink.requests.filter((r) => r.status === 202 && r.event?.source === source);
const sequenceOf = (r: { event?: { data?: unknown } }) => (r.event!.data as { sequence: number }).sequence;

/** What proves an adapter pod was neither replaced nor restarted: its UID, restart count and process. */
async function podIdentity(platform: Platform, namespace: string, sourceUid: string) {
  const pods = await adapterPods(namespace, sourceUid);
  return pods.map((p) => ({
    name: p.metadata!.name!,
    uid: p.metadata!.uid!,
    restartCount: p.status?.containerStatuses?.[0]?.restartCount ?? 0,
    pid: platform.containerPid(namespace, p.metadata!.name!),
  }));
}

/** Waits until `sink` has accepted nothing from `source` for 2 s (many intervals of 300 ms). */
async function quiet(sink: DevSink, source: string, what: string): Promise<void> {
  let seen = -1;
  let since = Date.now();
  await eventually(
    what,
    async () => {
      const now = accepted(sink, source).length;
      if (now !== seen) [seen, since] = [now, Date.now()];
      return Date.now() - since >= 2_000 ? true : undefined;
    },
    90_000,
  );
}

describe('Tracked Addressable and HTTPS sinks end to end', () => {
  const kc = adminKubeConfig();
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  // Where the adapters reach this test process: the API server's own address (loopback locally,
  // the node's host end on the real node).
  const host = new URL(kc.getCurrentCluster()!.server).hostname;
  const readableRole = `e2e-widgetsinks-addressable-${suffix}`;
  let platform: Platform;
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  const sinks: DevSink[] = [];

  async function sinkOn(tls?: { certPem: string; keyPem: string }): Promise<{ sink: DevSink; url: string }> {
    const sink = new DevSink(tls);
    sinks.push(sink);
    return { sink, url: (await sink.start(host)).href };
  }

  async function adapterDeployment(sourceUid: string): Promise<k8s.V1Deployment> {
    const list = await apps.listNamespacedDeployment({
      namespace: ns.name,
      labelSelector: `samples.knative.dev/source-uid=${sourceUid}`,
    });
    expect(list.items).toHaveLength(1);
    return list.items[0]!;
  }

  async function setAddress(name: string, url: string | undefined): Promise<void> {
    await custom.patchNamespacedCustomObjectStatus(
      {
        group,
        version: 'v1',
        namespace: ns.name,
        plural: 'widgetsinks',
        name,
        body: { status: { address: url === undefined ? null : { url } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  beforeAll(async () => {
    platform = await startSystem();
    ns = await freshNamespace('tracked-sinks');
    for (const [plural, kind] of [
      ['widgetsinks', 'WidgetSink'],
      ['secretsinks', 'SecretSink'],
    ] as const)
      await ext.createCustomResourceDefinition({ body: addressableCrd(group, plural, kind) });
    // Only WidgetSinks are made readable, the way Knative Serving and Eventing ship theirs.
    await rbac.createClusterRole({
      body: {
        metadata: { name: readableRole, labels: { 'duck.knative.dev/addressable': 'true' } },
        rules: [{ apiGroups: [group], resources: ['widgetsinks'], verbs: ['get', 'list', 'watch'] }],
      },
    });
    await eventually('the CRDs to be served', async () => {
      const served = await Promise.all(
        ['widgetsinks', 'secretsinks'].map((plural) =>
          custom
            .listNamespacedCustomObject({ group, version: 'v1', namespace: ns.name, plural })
            .then(() => true)
            .catch(() => false),
        ),
      );
      return served.every(Boolean) ? true : undefined;
    });
  });
  afterAll(async () => {
    await platform?.stop();
    await Promise.all(sinks.map((s) => s.close()));
    await rbac.deleteClusterRole({ name: readableRole }).catch(() => undefined);
    for (const plural of ['widgetsinks', 'secretsinks'])
      await ext.deleteCustomResourceDefinition({ name: `${plural}.${group}` }).catch(() => undefined);
  });

  it('1. a custom Addressable as sink.ref: heartbeats follow its address as it moves, and SinkProvided goes False when it goes away', async () => {
    const first = await sinkOn();
    const second = await sinkOn();
    await custom.createNamespacedCustomObject({
      group,
      version: 'v1',
      namespace: ns.name,
      plural: 'widgetsinks',
      body: { apiVersion, kind: 'WidgetSink', metadata: { name: 'display' } },
    });
    await setAddress('display', first.url);
    await createSource(ns.name, 'tracked', {
      interval: '300ms',
      sink: { ref: { apiVersion, kind: 'WidgetSink', name: 'display' } },
    });
    const ready = await waitForSource(ns.name, 'tracked', 'Ready', (s) => isTrue(s, 'Ready'), 90_000);
    expect(ready.status?.sinkUri).toBe(first.url);
    const source = heartbeatSource(ns.name, 'tracked');
    await eventually('heartbeats at the first address', async () =>
      accepted(first.sink, source).length >= 2 ? true : undefined,
    );

    const podsBefore = await podIdentity(platform, ns.name, ready.metadata.uid);
    expect(podsBefore).toHaveLength(1);
    const deploymentBefore = await adapterDeployment(ready.metadata.uid);

    // Only the Addressable's status changes: no edit of the source, nothing else to wake the operator.
    const generation = ready.metadata.generation;
    const movedAt = Date.now();
    await setAddress('display', second.url);
    // The adapter follows over its control stream (ApplyState.sink): the first heartbeat at the new
    // address, timed at the sink, within a few seconds of the change.
    await second.sink.waitUntil(
      () => accepted(second.sink, source).length >= 1,
      'a heartbeat at the second address',
      30_000,
    );
    const firstBeatInMs = performance.timeOrigin + accepted(second.sink, source)[0]!.arrivedAt - movedAt;
    process.stdout.write(
      `[tracked-sinks] address moved → first heartbeat at the new address: ${Math.round(firstBeatInMs)} ms\n`,
    );
    const moved = await waitForSource(
      ns.name,
      'tracked',
      'the sink URI to follow the address, applied',
      (s) => s.status?.sinkUri === second.url && isTrue(s, 'ConfigApplied'),
      30_000,
    );
    expect(moved.metadata.generation).toBe(generation);
    await eventually('heartbeats at the second address', async () =>
      accepted(second.sink, source).length >= 2 ? true : undefined,
    );
    // A second or less on an unloaded machine; bounded at a few seconds here (a shared, loaded CI node).
    expect(firstBeatInMs).toBeLessThan(5_000);
    // Moved live: the very same pod and process, never restarted, and no rollout of the Deployment.
    expect(await podIdentity(platform, ns.name, ready.metadata.uid)).toEqual(podsBefore);
    const deploymentAfter = await adapterDeployment(ready.metadata.uid);
    expect(deploymentAfter.metadata!.generation).toBe(deploymentBefore.metadata!.generation);
    expect(deploymentAfter.spec!.template).toEqual(deploymentBefore.spec!.template);
    // One process throughout: its heartbeat sequence goes on at the new address.
    const lastAtFirst = Math.max(...accepted(first.sink, source).map(sequenceOf));
    expect(sequenceOf(accepted(second.sink, source)[0]!)).toBeGreaterThan(lastAtFirst);
    // And the old address hears nothing more.
    await quiet(first.sink, source, 'the first address to fall silent');

    await setAddress('display', undefined);
    const gone = await waitForSource(
      ns.name,
      'tracked',
      'SinkProvided False without an address',
      (s) => condition(s, 'SinkProvided')?.status === 'False',
      30_000,
    );
    expect(condition(gone, 'SinkProvided')).toMatchObject({ reason: 'SinkNotAddressable' });
    expect(condition(gone, 'Ready')?.status).toBe('False');
  });

  it('2. a ref to a kind the operator may not read: SinkProvided False with a reason that says so', async () => {
    await custom.createNamespacedCustomObject({
      group,
      version: 'v1',
      namespace: ns.name,
      plural: 'secretsinks',
      body: { apiVersion, kind: 'SecretSink', metadata: { name: 'hidden' } },
    });
    await createSource(ns.name, 'forbidden', {
      interval: '1s',
      sink: { ref: { apiVersion, kind: 'SecretSink', name: 'hidden' } },
    });
    const refused = await waitForSource(
      ns.name,
      'forbidden',
      'SinkProvided False',
      (s) => condition(s, 'SinkProvided')?.status === 'False',
      60_000,
    );
    const sinkProvided = condition(refused, 'SinkProvided');
    expect(sinkProvided?.reason).toBe('SinkForbidden');
    expect(sinkProvided?.message).toContain('duck.knative.dev/addressable');
    expect(refused.status?.sinkUri).toBeUndefined();
  });

  describe('an HTTPS sink with spec.sink.CACerts', () => {
    let sinkCa: CertificateAuthority;
    let otherCa: CertificateAuthority;
    let https: { sink: DevSink; url: string };

    beforeAll(async () => {
      sinkCa = await createCertificateAuthority({ commonName: 'e2e sink CA' });
      otherCa = await createCertificateAuthority({ commonName: 'e2e unrelated CA' });
      const ipAddresses = /^[\d.]+$|:/.test(host) ? [host] : [];
      const dnsNames = ipAddresses.length === 0 ? [host] : [];
      https = await sinkOn(
        await sinkCa.issue({ commonName: 'e2e sink', ipAddresses, dnsNames, usages: ['server'] }),
      );
    });

    it('3. the right CA delivers and is shown in status.sinkCACerts; a wrong CA fails visibly; the right one again recovers', async () => {
      await createSource(ns.name, 'secure', {
        interval: '300ms',
        sink: { uri: https.url, CACerts: sinkCa.certPem },
      });
      const ready = await waitForSource(ns.name, 'secure', 'Ready', (s) => isTrue(s, 'Ready'), 90_000);
      expect(ready.status?.sinkCACerts).toBe(sinkCa.certPem);
      const source = heartbeatSource(ns.name, 'secure');
      await eventually('heartbeats over verified TLS', async () =>
        accepted(https.sink, source).length >= 2 ? true : undefined,
      );
      const podsBefore = await podIdentity(platform, ns.name, ready.metadata.uid);

      await patchSpec(ns.name, 'secure', { sink: { uri: https.url, CACerts: otherCa.certPem } });
      const wrong = await waitForSource(
        ns.name,
        'secure',
        'the wrong CA in status',
        (s) => s.status?.sinkCACerts === otherCa.certPem,
        30_000,
      );
      // The new CA reaches the running adapter over its control stream (no rollout); it logs its
      // failed deliveries with the verification error, and the sink accepts nothing more.
      await eventually(
        'an adapter to log verification failures',
        async () => {
          const pods = await adapterPods(ns.name, wrong.metadata.uid);
          const failing = pods.some((p) =>
            /dropped after \d+ attempt\(s\): .*(certificate|UNABLE_TO_VERIFY|SELF_SIGNED)/i.test(
              platform.podLog(ns.name, p.metadata!.name!, 'adapter'),
            ),
          );
          return failing ? true : undefined;
        },
        90_000,
      );
      await quiet(https.sink, source, 'no heartbeat accepted over an unverified connection');
      // And the source says so: SinkReachable False naming the verification failure, Ready unchanged.
      const failing = await waitForSource(
        ns.name,
        'secure',
        'SinkReachable False',
        (s) => condition(s, 'SinkReachable')?.status === 'False',
        60_000,
      );
      expect(condition(failing, 'SinkReachable')).toMatchObject({ reason: 'DeliveryFailing' });
      expect(condition(failing, 'SinkReachable')?.message).toMatch(/certificate verify failed/);
      expect(isTrue(failing, 'Ready')).toBe(true);

      await patchSpec(ns.name, 'secure', { sink: { uri: https.url, CACerts: sinkCa.certPem } });
      const before = accepted(https.sink, source).length;
      await eventually(
        'heartbeats again with the right CA',
        async () => (accepted(https.sink, source).length >= before + 2 ? true : undefined),
        60_000,
      );
      expect((await getSource(ns.name, 'secure')).status?.sinkCACerts).toBe(sinkCa.certPem);
      // Both CA changes reached the same adapter process: nothing was restarted or replaced.
      expect(await podIdentity(platform, ns.name, ready.metadata.uid)).toEqual(podsBefore);
      await waitForSource(
        ns.name,
        'secure',
        'SinkReachable True again',
        (s) => condition(s, 'SinkReachable')?.status === 'True',
        60_000,
      );
    });
  });
});
