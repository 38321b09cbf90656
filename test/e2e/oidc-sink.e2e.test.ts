// OIDC sink authentication end to end: config/ as is (the operator's real RBAC), a real sink that
// verifies every Bearer token's signature against the API server's own OIDC discovery and JWKS
// (jose), and SampleSources whose sink has an audience. The operator creates a ServiceAccount per
// source, mints tokens with the TokenRequest API and hands them to the adapters over the control
// stream; nothing is ever sent unauthenticated; a token for the wrong audience is refused; a
// restarted adapter gets the token again on reconnect; and no token shows up in any log.
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, eventually, freshNamespace } from '../support/cluster.js';
import {
  ANONYMOUS_DISCOVERY_BINDING,
  discoverIssuer,
  OidcSink,
  type IssuerKeys,
} from '../support/oidc-sink.js';
import { startSystem, SYSTEM_NAMESPACE, type Platform } from './system.js';
import { adapterPods, createSource, getSource, isTrue, patchSpec, waitForSource } from './source-helpers.js';

const AUDIENCE = 'https://heartbeats.sink.test/';
const heartbeatSource = (ns: string, name: string) => `/apis/v1/namespaces/${ns}/samplesources/${name}`;

describe('OIDC sinks end to end', () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const server = kc.getCurrentCluster()!.server;
  const caPem = Buffer.from(kc.getCurrentCluster()!.caData!, 'base64').toString('utf8');
  let platform: Platform;
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  let issuer: IssuerKeys;
  let sink: OidcSink;
  let sinkUri: string;

  beforeAll(async () => {
    platform = await startSystem();
    ns = await freshNamespace('oidc');
    // What a cluster serving OIDC relying parties does: discovery and keys readable by anyone.
    await rbac.createClusterRoleBinding({ body: ANONYMOUS_DISCOVERY_BINDING }).catch((err: unknown) => {
      if ((err as { code?: number }).code !== 409) throw err;
    });
    issuer = await eventually('anonymous OIDC discovery', () =>
      discoverIssuer(server, caPem).catch(() => undefined),
    );
    sink = new OidcSink(issuer, AUDIENCE);
    // Where adapters reach the test machine: the API server's own address (loopback, or the node's host end).
    sinkUri = (await sink.start(new URL(server).hostname)).href;
  });
  afterAll(async () => {
    await platform?.stop();
    await sink?.close();
    await issuer?.close();
    await rbac
      .deleteClusterRoleBinding({ name: ANONYMOUS_DISCOVERY_BINDING.metadata.name })
      .catch(() => undefined);
  });

  it("1. a source with the sink's audience: its own ServiceAccount, verified heartbeats, none unauthenticated", async () => {
    const created = await createSource(ns.name, 'trusted', {
      interval: '300ms',
      sink: { uri: sinkUri, audience: AUDIENCE },
    });
    const ready = await waitForSource(ns.name, 'trusted', 'Ready', (s) => isTrue(s, 'Ready'), 90_000);
    expect(ready.status?.sinkAudience).toBe(AUDIENCE);

    const accounts = await core.listNamespacedServiceAccount({
      namespace: ns.name,
      labelSelector: `samples.knative.dev/source-uid=${created.metadata.uid}`,
    });
    expect(accounts.items).toHaveLength(1);
    const account = accounts.items[0]!;
    expect(account.metadata?.ownerReferences).toEqual([
      expect.objectContaining({
        kind: 'SampleSource',
        name: 'trusted',
        uid: created.metadata.uid,
        controller: true,
      }),
    ]);

    const source = heartbeatSource(ns.name, 'trusted');
    await eventually('three verified heartbeats', async () =>
      sink.from(source, 202).length >= 3 ? true : undefined,
    );
    const accepted = sink.from(source, 202);
    for (const r of accepted) {
      expect(r.claims?.sub).toBe(`system:serviceaccount:${ns.name}:${account.metadata!.name}`);
      expect(r.claims?.aud).toEqual([AUDIENCE]);
      expect(r.claims?.iss).toBe(issuer.issuer);
    }
    // Before its token arrived the adapter held its tongue: no request of this source was ever refused.
    expect(sink.from(source, 401)).toEqual([]);
  });

  it("2. a source whose audience is not the sink's gets every heartbeat refused", async () => {
    await createSource(ns.name, 'stranger', {
      interval: '300ms',
      sink: { uri: sinkUri, audience: 'https://another.sink.test/' },
    });
    const ready = await waitForSource(
      ns.name,
      'stranger',
      'a sink audience',
      (s) => s.status?.sinkAudience !== undefined,
      90_000,
    );
    expect(ready.status?.sinkAudience).toBe('https://another.sink.test/');
    const source = heartbeatSource(ns.name, 'stranger');
    await eventually('three refused heartbeats', async () =>
      sink.from(source, 401).length >= 3 ? true : undefined,
    );
    expect(sink.from(source, 202)).toEqual([]);
    // Refused for the audience, with a token signed by the issuer (a missing token reads "no bearer token").
    for (const r of sink.from(source, 401)) expect(r.refusal).toMatch(/"aud" claim/);
    // The adapter counts them as failed sends (a 401 is not retried).
    const [pod] = await adapterPods(ns.name, ready.metadata.uid);
    await eventually('the adapter to log the refusals', async () =>
      platform.podLog(ns.name, pod!.metadata!.name!, 'adapter').includes('sink answered 401')
        ? true
        : undefined,
    );
  });

  it('3. a restarted adapter gets the token again when its control stream reconnects', async () => {
    const source = heartbeatSource(ns.name, 'trusted');
    const trusted = await getSource(ns.name, 'trusted');
    const [pod] = await adapterPods(ns.name, trusted.metadata.uid);
    const before = sink.from(source, 202);
    const lastBefore = Math.max(...before.map((r) => r.sequence ?? 0));
    const killedAt = Date.now();
    await platform.killContainer(ns.name, pod!.metadata!.name!);
    await eventually('the adapter container to restart', async () => {
      const p = await core.readNamespacedPod({ namespace: ns.name, name: pod!.metadata!.name! });
      return (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 ? true : undefined;
    });
    // A new process starts its sequence at 1 and has no token: verified heartbeats after the kill
    // whose sequence went back can only come from the restarted adapter, given the token again.
    const restarted = await eventually(
      'verified heartbeats from the restarted adapter',
      async () => {
        const after = sink.from(source, 202).filter((r) => r.at > killedAt && (r.sequence ?? 0) < lastBefore);
        return after.length >= 2 ? after : undefined;
      },
      60_000,
    );
    expect(restarted[0]!.claims?.aud).toEqual([AUDIENCE]);
    expect(sink.from(source, 401)).toEqual([]);
  });

  it('4. removing the audience deletes the ServiceAccount; the sink then refuses the tokenless heartbeats', async () => {
    const trusted = await getSource(ns.name, 'trusted');
    await patchSpec(ns.name, 'trusted', { sink: { uri: sinkUri, audience: null } });
    await waitForSource(
      ns.name,
      'trusted',
      'no sink audience',
      (s) => s.status?.sinkAudience === undefined && s.metadata.generation > trusted.metadata.generation,
    );
    await eventually('the ServiceAccount to be deleted', async () => {
      const list = await core.listNamespacedServiceAccount({
        namespace: ns.name,
        labelSelector: `samples.knative.dev/source-uid=${trusted.metadata.uid}`,
      });
      return list.items.length === 0 ? true : undefined;
    });
    const source = heartbeatSource(ns.name, 'trusted');
    await eventually(
      'tokenless heartbeats refused',
      async () => (sink.from(source, 401).some((r) => r.refusal === 'no bearer token') ? true : undefined),
      90_000,
    );
  });

  it("5. no token appears in the operator's or any adapter's log", async () => {
    const signatures = new Set(sink.requests.flatMap((r) => (r.tokenSignature ? [r.tokenSignature] : [])));
    expect(signatures.size).toBeGreaterThan(0);
    const pods = [
      ...(await core.listNamespacedPod({ namespace: SYSTEM_NAMESPACE })).items.map(
        (p) => [SYSTEM_NAMESPACE, p] as const,
      ),
      ...(await core.listNamespacedPod({ namespace: ns.name })).items.map((p) => [ns.name, p] as const),
    ];
    let read = 0;
    for (const [namespace, p] of pods) {
      for (const c of p.spec?.containers ?? []) {
        const log = platform.podLog(namespace, p.metadata!.name!, c.name);
        if (log) read++;
        for (const s of signatures) expect(log.includes(s)).toBe(false);
      }
    }
    expect(read).toBeGreaterThan(1);
  });
});
