// The informer when things break, on a private control plane (the shared one must not be
// restarted): kube-apiserver restarted mid-watch, a resourceVersion compacted away in etcd
// (410 Gone, forced with the watch cache off so etcd answers the watch), and a stalled
// connection caught by the watchdog. Faults between client and server come from a TCP proxy.
import { execFileSync } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../../test/controlplane/controlplane.js';
import { eventually } from '../../test/support/cluster.js';
import { clientFromKubeConfig, type KubeClient } from './client.js';
import { Informer } from './informer.js';
import type { KubeObject } from './objects.js';

type ConfigMap = KubeObject & { data?: Record<string, string> };
const configMaps = { apiVersion: 'v1', plural: 'configmaps', kind: 'ConfigMap' };
const fastBackoff = { initialMs: 100, maxMs: 500 };

/** A loopback TCP proxy that can cut, refuse, or silently stall every connection. */
class FaultProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  mode: 'pass' | 'refuse' | 'stall' = 'pass';
  port = 0;
  constructor(private readonly targetPort: number) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      if (this.mode === 'refuse') return void client.destroy();
      const upstream = connect(this.targetPort, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      const forget = () => {
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('close', forget);
      // In stall mode bytes are swallowed: the connection stays open and says nothing.
      client.on('data', (d) => this.mode !== 'stall' && upstream.write(d));
      upstream.on('data', (d) => this.mode !== 'stall' && client.write(d));
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('end', () => upstream.end());
      upstream.on('end', () => client.end());
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Breaks every open connection. */
  cutAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async stop(): Promise<void> {
    this.cutAll();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

describe('Informer resilience (private control plane)', () => {
  let cp: ControlPlane;
  let admin: KubeClient;
  let proxy: FaultProxy;
  let proxied: KubeClient;
  const informers: Informer<ConfigMap>[] = [];
  let nsSerial = 0;

  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: false, extraApiServerArgs: ['--watch-cache=false'] });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cp.adminKubeconfig);
    admin = clientFromKubeConfig(kc);
    proxy = new FaultProxy(Number(new URL(cp.server).port));
    await proxy.start();
    const viaProxy = new k8s.KubeConfig();
    viaProxy.loadFromOptions({
      clusters: kc.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${proxy.port}` })),
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.currentContext,
    });
    proxied = clientFromKubeConfig(viaProxy);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(informers.map((i) => i.stop()));
    await proxy?.stop();
    await cp?.stop();
  });

  afterEach(async () => {
    await Promise.all(informers.splice(0).map((i) => i.stop()));
    proxy.mode = 'pass';
  });

  async function namespace(): Promise<string> {
    const name = `resilience-${++nsSerial}`;
    await admin.request('POST', '/api/v1/namespaces', { body: { metadata: { name } } });
    return name;
  }

  function watchConfigMaps(
    client: KubeClient,
    ns: string,
    extra: Partial<ConstructorParameters<typeof Informer>[1]> = {},
  ) {
    const updates: Array<[string | undefined, string | undefined]> = [];
    const informer = new Informer<ConfigMap>(client, {
      resource: configMaps,
      namespace: ns,
      backoff: fastBackoff,
      ...extra,
    });
    informers.push(informer);
    informer.addHandler({ onUpdate: (o, n) => updates.push([o.data?.v, n.data?.v]) });
    informer.start();
    return { informer, updates };
  }

  const patchV = (ns: string, name: string, v: string) =>
    admin.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/${name}`, {
      contentType: 'application/merge-patch+json',
      body: { data: { v } },
    });

  it('recovers when kube-apiserver restarts mid-watch, without losing an update', async () => {
    const ns = await namespace();
    await admin.request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
      body: { metadata: { name: 'a' }, data: { v: '1' } },
    });
    const { informer, updates } = watchConfigMaps(admin, ns);
    await informer.waitForSync();
    const watchesBefore = informer.stats.watches;
    await cp.restartApiServer();
    await patchV(ns, 'a', '2');
    await eventually('update after restart', async () => (updates.length > 0 ? true : undefined), 20_000);
    expect(updates).toEqual([['1', '2']]);
    expect(informer.stats.watches).toBeGreaterThan(watchesBefore);
    expect(informer.lister.get(`${ns}/a`)?.data?.v).toBe('2');
  }, 120_000);

  it('relists on 410 Gone after its resourceVersion was compacted in etcd, and reports the missed update', async () => {
    const ns = await namespace();
    await admin.request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
      body: { metadata: { name: 'a' }, data: { v: '1' } },
    });
    await admin.request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
      body: { metadata: { name: 'gone' }, data: { v: '1' } },
    });
    const deleted: string[] = [];
    const { informer, updates } = watchConfigMaps(proxied, ns);
    informer.addHandler({ onDelete: (o) => deleted.push(o.metadata.name) });
    await informer.waitForSync();

    // Partition the informer from the server, change things, and compact etcd past its resourceVersion.
    proxy.mode = 'refuse';
    proxy.cutAll();
    await patchV(ns, 'a', '2');
    await patchV(ns, 'a', '3');
    await admin.request('DELETE', `/api/v1/namespaces/${ns}/configmaps/gone`);
    const etcdctl = join(cp.binDir, 'etcdctl');
    const status = JSON.parse(
      execFileSync(etcdctl, [`--endpoints=${cp.etcdEndpoint}`, 'endpoint', 'status', '-w', 'json'], {
        encoding: 'utf8',
      }),
    ) as Array<{ Status: { header: { revision: number } } }>;
    const revision = status[0]!.Status.header.revision;
    execFileSync(etcdctl, [`--endpoints=${cp.etcdEndpoint}`, 'compaction', String(revision)], {
      encoding: 'utf8',
    });
    expect(Number(informer.lastResourceVersion)).toBeLessThan(revision);

    proxy.mode = 'pass';
    await eventually(
      'relist after 410',
      async () => (informer.stats.gone > 0 && informer.stats.lists >= 2 ? true : undefined),
      20_000,
    );
    await eventually('missed update delivered', async () => (updates.length > 0 ? true : undefined), 5_000);
    // One update from the state we had to the state after the gap; the delete is not lost either.
    expect(updates).toEqual([['1', '3']]);
    expect(deleted).toEqual(['gone']);
    // And the watch goes on after the relist.
    await patchV(ns, 'a', '4');
    await eventually('update after relist', async () => (updates.length > 1 ? true : undefined), 10_000);
    expect(updates[1]).toEqual(['3', '4']);
  }, 60_000);

  it('notices a silently stalled watch with its watchdog and resumes', async () => {
    const ns = await namespace();
    await admin.request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
      body: { metadata: { name: 'a' }, data: { v: '1' } },
    });
    const { informer, updates } = watchConfigMaps(proxied, ns, {
      watchTimeoutSeconds: 1,
      watchdogGraceMs: 1_000,
    });
    await informer.waitForSync();
    // The connection stays open but no byte passes: neither an error nor the server's timeout arrives.
    proxy.mode = 'stall';
    await eventually(
      'watchdog fired',
      async () => (informer.stats.watchdogAborts > 0 ? true : undefined),
      10_000,
    );
    proxy.mode = 'pass';
    await patchV(ns, 'a', '2');
    await eventually('update after the stall', async () => (updates.length > 0 ? true : undefined), 10_000);
    expect(updates).toEqual([['1', '2']]);
  }, 60_000);
});
