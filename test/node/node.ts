// A real Kubernetes node for the test control plane: containerd + runc, CNI, kubelet, kube-proxy and
// CoreDNS, isolated in a network namespace and a private mount namespace of its own, with a cgroup
// subtree of its own. Created by `prepareNode()` (before the control plane, which listens on the
// veth's host end), started by `start(cp)`, removed completely by `stop()`; leftovers of a crashed
// run are removed by the next `prepareNode()`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, type ControlPlane } from '../controlplane/controlplane.js';
import {
  FatalWaitError,
  freePort,
  startProcess,
  waitFor,
  type ManagedProcess,
} from '../controlplane/processes.js';
import { createCgroupRoot } from './cgroups.js';
import {
  cniConfig,
  containerdConfig,
  coreDnsManifests,
  kubeletConfig,
  kubeProxyConfig,
  registryHostsToml,
} from './configs.js';
import { nodeClient, type NodeClient, type NodeHandle } from './client.js';
import { createMountNamespace, inNode } from './mountns.js';
import { createNetwork, slotNetwork, slotsInUse, SLOTS, type NodeNetwork } from './network.js';
import { CLAIMS_DIR, claimDir, processStartTime, removeLeftovers, teardownSlot } from './teardown.js';

/** Where build.sh put the node's binaries, building them first when the cache is cold. */
export function nodeBinDir(): string {
  const fromEnv = process.env.SAMPLESOURCE_NODE_BIN;
  if (fromEnv) return fromEnv;
  const out = execFileSync('bash', [join(repoRoot, 'test/node/build.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out.trim().split('\n').pop()!;
}

/** Where base-images.sh put the node-base, pause and coredns image tarballs. */
export function baseImagesDir(binDir: string): string {
  const out = execFileSync('bash', [join(repoRoot, 'test/node/base-images.sh'), binDir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out.trim().split('\n').pop()!;
}

/** Whether this machine can run the real node: root, namespaces, cgroup v1 hierarchies, overlayfs. */
export function realNodeSupported(): { ok: boolean; reason?: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not root' };
  if (!existsSync('/sys/fs/cgroup/memory/cgroup.procs'))
    return { ok: false, reason: 'no cgroup v1 memory hierarchy' };
  for (const tool of ['ip', 'unshare', 'nsenter', 'go'])
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return { ok: false, reason: `${tool} is missing` };
    }
  return { ok: true };
}

/** Options for {@link prepareNode}. */
export interface NodeOptions {
  /** Directory with the node's binaries (build.sh). Default: built or found in the cache. */
  binDir?: string;
  /** Where the daemons' logs go. Default `.tmp/logs/node-<time>` in the repo. */
  logDir?: string;
}

/** A node whose namespaces exist; `start` runs its daemons against a control plane. */
export interface RealNode {
  readonly name: string;
  readonly network: NodeNetwork;
  readonly binDir: string;
  readonly logDir: string;
  readonly stateDir: string;
  /** The file pinning the node's mount namespace (for nsenter). */
  readonly mountNamespace: string;
  /** `host:port` of the image registry on the veth's host end (reachable from the host and the node). */
  readonly registry: string;
  /** Milliseconds from kubelet's start to the node being Ready (after `start`). */
  readyMs: number;
  /** Starts the registry, containerd, kubelet, kube-proxy and CoreDNS; resolves when all are Ready. */
  start(cp: ControlPlane): Promise<void>;
  /** Operations on the running node (also available to other processes: client.ts). */
  readonly client: NodeClient;
  /** What identifies the node to a {@link nodeClient} in another process. */
  readonly handle: NodeHandle;
  /** Starts a process of the node (in its namespaces) whose life the node manages. */
  spawn(name: string, bin: string, args: string[], options?: { hostNetwork?: boolean }): ManagedProcess;
  /** Stops every daemon and removes everything the node created. Safe to call twice. */
  stop(): Promise<void>;
}

/** Claims a free slot, removes leftovers of crashed runs, creates the namespaces and the cgroup subtree. */
export async function prepareNode(options: NodeOptions = {}): Promise<RealNode> {
  const binDir = options.binDir ?? nodeBinDir();
  const removed = await removeLeftovers(slotsInUse());
  if (removed.length) console.log(`removed leftovers of crashed node runs: slots ${removed.join(', ')}`);

  mkdirSync(CLAIMS_DIR, { recursive: true });
  const used = slotsInUse();
  let slot = -1;
  for (let s = 0; s < SLOTS && slot < 0; s++) {
    if (used.has(s)) continue;
    try {
      mkdirSync(claimDir(s)); // atomic: the first run to create it owns the slot
      slot = s;
    } catch {
      /* taken by a concurrent run */
    }
  }
  if (slot < 0) throw new Error('no free node slot in 10.231.0.0/16');
  const claim = claimDir(slot);
  writeFileSync(join(claim, 'owner'), `${process.pid} ${processStartTime(process.pid)}\n`);
  const network = slotNetwork(slot);
  const name = network.netns;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logDir = options.logDir ?? join(repoRoot, '.tmp/logs', `node-${stamp}-${process.pid}`);
  mkdirSync(logDir, { recursive: true });
  const stateDir = join(tmpdir(), `samplesource-node-${slot}-${process.pid}`);
  writeFileSync(join(claim, 'state-dir'), stateDir);
  mkdirSync(stateDir, { recursive: true });
  const mountNamespace = join(claim, 'mnt');
  const processes: ManagedProcess[] = [];
  let stopped = false;

  try {
    createNetwork(network);
    createMountNamespace(mountNamespace, stateDir);
    createCgroupRoot(name);
  } catch (err) {
    await teardownSlot(slot);
    throw err;
  }
  const registryPort = await freePort(network.hostAddress);
  const registry = `${network.hostAddress}:${registryPort}`;
  const nodeEnv = { ...process.env, PATH: `${binDir}:${process.env.PATH}` };

  const spawn: RealNode['spawn'] = (processName, bin, args, opts = {}) => {
    const [cmd, argv] = inNode(mountNamespace, opts.hostNetwork ? undefined : network.netnsPath, bin, args);
    const p = startProcess(processName, cmd, argv, join(logDir, `${processName}.log`), nodeEnv);
    processes.push(p);
    return p;
  };
  const handle: NodeHandle = { name, mountNamespace, netnsPath: network.netnsPath, binDir };
  const client = nodeClient(handle);
  const { crictl, ctr } = client;

  const node: RealNode = {
    name,
    network,
    binDir,
    logDir,
    stateDir,
    mountNamespace,
    registry,
    readyMs: 0,
    spawn,
    client,
    handle,
    async start(cp) {
      const etc = join(stateDir, 'etc');
      const hostsDir = join(etc, 'containerd-hosts');
      const cniDir = join(etc, 'cni');
      for (const dir of [etc, cniDir, join(stateDir, 'pod-logs'), join(stateDir, 'registry')])
        mkdirSync(dir, { recursive: true });

      // A registry on the veth's host end: BuildKit (host netns) and containerd (node netns) both reach it;
      // containerd uses it as the mirror of the public registries the manifests name.
      spawn(
        'registry',
        join(binDir, 'crane'),
        ['registry', 'serve', `--address=${registry}`, `--disk=${join(stateDir, 'registry')}`],
        {
          hostNetwork: true,
        },
      );
      for (const host of ['docker.io', 'gcr.io', 'samplesource.local']) {
        mkdirSync(join(hostsDir, host), { recursive: true });
        writeFileSync(join(hostsDir, host, 'hosts.toml'), registryHostsToml(host, registry));
      }
      writeFileSync(join(cniDir, '10-samplesource.conflist'), cniConfig());
      writeFileSync(
        join(etc, 'containerd.toml'),
        containerdConfig({ binDir, cniConfDir: cniDir, registryHostsDir: hostsDir }),
      );
      const containerd = spawn('containerd', join(binDir, 'containerd'), [
        `--config=${join(etc, 'containerd.toml')}`,
      ]);
      await waitFor(
        `containerd (log: ${containerd.logFile})`,
        async () => {
          if (containerd.child.exitCode !== null)
            throw new FatalWaitError(`containerd exited (log: ${containerd.logFile})`);
          try {
            crictl(['info']);
            return true;
          } catch {
            return false;
          }
        },
        60_000,
        200,
      );

      const images = baseImagesDir(binDir);
      for (const [image, as] of [
        ['pause', 'samplesource.local/pause:0.1'],
        ['coredns', 'samplesource.local/coredns:0.1'],
      ] as const) {
        const [imported] = client.importImage(join(images, `${image}.tar`));
        ctr(['images', 'tag', '--force', imported!, as]);
      }

      const kubeletKubeconfig = await cp.kubeconfigForUser(`system:node:${name}`, ['system:nodes']);
      const proxyKubeconfig = await cp.kubeconfigForUser('system:kube-proxy');
      writeFileSync(join(etc, 'resolv.conf'), `nameserver 10.0.0.10\n`);
      writeFileSync(
        join(etc, 'kubelet.json'),
        kubeletConfig({
          nodeAddress: network.nodeAddress,
          cgroupRoot: `/${name}`,
          // The cluster's client CA (the API server's kubelet client certificate comes from it).
          clientCaFile: join(cp.clientCaDir, 'client-ca.crt'),
          resolvConf: join(etc, 'resolv.conf'),
          podLogsDir: join(stateDir, 'pod-logs'),
          volumePluginDir: join(stateDir, 'volume-plugins'),
        }),
      );
      writeFileSync(
        join(etc, 'kube-proxy.json'),
        kubeProxyConfig({ kubeconfig: proxyKubeconfig, nodeName: name }),
      );

      const kubeletStarted = Date.now();
      const kubelet = spawn('kubelet', join(binDir, 'kubelet'), [
        `--config=${join(etc, 'kubelet.json')}`,
        `--kubeconfig=${kubeletKubeconfig}`,
        `--hostname-override=${name}`,
        `--node-ip=${network.nodeAddress}`,
        '--v=1',
      ]);
      const proxy = spawn('kube-proxy', join(binDir, 'kube-proxy'), [
        `--config=${join(etc, 'kube-proxy.json')}`,
        '--v=1',
      ]);
      await waitFor(
        `node ${name} Ready (log: ${kubelet.logFile})`,
        async () => {
          for (const p of [kubelet, proxy])
            if (p.child.exitCode !== null) throw new FatalWaitError(`${p.name} exited (log: ${p.logFile})`);
          const res = await cp.adminRequest('GET', `/api/v1/nodes/${name}`);
          const conditions = (
            res.body as { status?: { conditions?: Array<{ type: string; status: string }> } }
          ).status?.conditions;
          return res.status === 200 && !!conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        },
        120_000,
        200,
      );
      node.readyMs = Date.now() - kubeletStarted;

      cp.kubectl(['apply', '-f', '-'], coreDnsManifests());
      await waitFor(
        'CoreDNS Ready',
        async () => {
          const out = cp.kubectl([
            '-n',
            'kube-system',
            'get',
            'deployment',
            'coredns',
            '-o',
            'jsonpath={.status.readyReplicas}',
          ]);
          return out.trim() === '1';
        },
        120_000,
        250,
      );
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // Daemons first, in reverse start order (kubelet before containerd), then whatever is left.
      for (const p of [...processes].reverse()) await p.stop(3_000);
      const problems = await teardownSlot(slot);
      if (problems.length) console.warn(`node ${name} teardown: ${problems.join('; ')}`);
    },
  };
  return node;
}
