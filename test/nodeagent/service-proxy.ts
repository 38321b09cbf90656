// kube-proxy stand-in for the node agent: every Service with a selector gets a loopback address
// (127.<octet>.x.y, never its real 10.x cluster IP, which must not be dialled here) with a TCP
// proxy per port forwarding to Ready endpoints; a hosts file maps Service DNS names to it for
// dns-shim.mjs. Nothing off the loopback network is ever listened on or dialled.
import type * as k8s from '@kubernetes/client-node';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { writeFile, rename } from 'node:fs/promises';
import { LoopbackIpPool } from './ip-pool.js';
import { resolvePort } from './pod-spec.js';

interface ProxiedService {
  ip: string;
  /** Listening servers by service port. */
  servers: Map<number, Server>;
  /** Current endpoints by service port: "ip:port". */
  endpoints: Map<number, string[]>;
  next: number;
}

function isReady(pod: k8s.V1Pod): boolean {
  return (
    !pod.metadata?.deletionTimestamp &&
    !!pod.status?.podIP &&
    (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

function selects(selector: Record<string, string>, pod: k8s.V1Pod): boolean {
  const labels = pod.metadata?.labels ?? {};
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** Proxies Services to their Ready pods on loopback addresses. */
export class ServiceProxy {
  private readonly services = new Map<string, ProxiedService>();
  private readonly ips: LoopbackIpPool;
  private readonly hostsFile: string;
  private lastHosts = '';
  private readonly clusterDomain: string;

  constructor(options: { hostsFile: string; ipRangeOctet?: number; clusterDomain?: string }) {
    this.hostsFile = options.hostsFile;
    this.ips = new LoopbackIpPool(options.ipRangeOctet ?? 44);
    this.clusterDomain = options.clusterDomain ?? 'cluster.local';
  }

  /** Brings proxies and the hosts file in line with the Services and Pods listed. */
  async sync(services: readonly k8s.V1Service[], pods: readonly k8s.V1Pod[]): Promise<void> {
    const seen = new Set<string>();
    for (const svc of services) {
      const selector = svc.spec?.selector;
      const ns = svc.metadata?.namespace;
      const name = svc.metadata?.name;
      if (!selector || Object.keys(selector).length === 0 || !ns || !name) continue;
      const key = `${ns}/${name}`;
      seen.add(key);
      let proxied = this.services.get(key);
      if (!proxied) {
        proxied = { ip: this.ips.allocate(), servers: new Map(), endpoints: new Map(), next: 0 };
        this.services.set(key, proxied);
      }
      const ready = pods.filter((p) => p.metadata?.namespace === ns && selects(selector, p) && isReady(p));
      const wantedPorts = new Set<number>();
      for (const port of svc.spec?.ports ?? []) {
        if ((port.protocol ?? 'TCP') !== 'TCP') continue;
        wantedPorts.add(port.port);
        proxied.endpoints.set(
          port.port,
          ready.flatMap((p) => {
            try {
              const target = port.targetPort ?? port.port;
              const container = p.spec!.containers.find(
                (c) => typeof target === 'number' || c.ports?.some((cp) => cp.name === target),
              );
              return container ? [`${p.status!.podIP}:${resolvePort(container, target)}`] : [];
            } catch {
              return [];
            }
          }),
        );
        if (!proxied.servers.has(port.port))
          proxied.servers.set(port.port, await this.listen(proxied, port.port));
      }
      for (const [port, server] of proxied.servers) {
        if (!wantedPorts.has(port)) {
          server.close();
          proxied.servers.delete(port);
          proxied.endpoints.delete(port);
        }
      }
    }
    for (const [key, proxied] of this.services) {
      if (!seen.has(key)) {
        for (const server of proxied.servers.values()) server.close();
        this.ips.release(proxied.ip);
        this.services.delete(key);
      }
    }
    await this.writeHosts();
  }

  /** Closes every proxy. */
  stop(): void {
    for (const proxied of this.services.values())
      for (const server of proxied.servers.values()) server.close();
    this.services.clear();
  }

  private listen(proxied: ProxiedService, port: number): Promise<Server> {
    const server = createServer((client: Socket) => {
      const endpoints = proxied.endpoints.get(port) ?? [];
      if (endpoints.length === 0) {
        client.destroy(); // no Ready endpoint: refused, as kube-proxy's REJECT rule does
        return;
      }
      const [host, target] = endpoints[proxied.next++ % endpoints.length]!.split(':');
      const upstream = connect({ host: host!, port: Number(target) });
      client.pipe(upstream).pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close);
      upstream.on('error', close);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, proxied.ip, () => resolve(server));
    });
  }

  private async writeHosts(): Promise<void> {
    const hosts: Record<string, string> = {};
    for (const [key, proxied] of this.services) {
      const [ns, name] = key.split('/');
      hosts[`${name}.${ns}.svc.${this.clusterDomain}`] = proxied.ip;
      hosts[`${name}.${ns}.svc`] = proxied.ip;
      hosts[`${name}.${ns}`] = proxied.ip;
    }
    const text = JSON.stringify(hosts);
    if (text === this.lastHosts) return;
    await writeFile(`${this.hostsFile}.tmp`, text);
    await rename(`${this.hostsFile}.tmp`, this.hostsFile);
    this.lastHosts = text;
  }
}
