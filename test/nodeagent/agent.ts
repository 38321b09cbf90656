// A small node agent for the test control plane, standing in for kubelet + container runtime:
// it registers a Node, binds pending Pods whose images it knows, runs each as a real local
// process on its own 127.x pod IP, reports phase, IP and readiness (from the Pod's readiness
// probe), restarts crashed containers, and stops processes when their Pods go away.
import * as k8s from '@kubernetes/client-node';
import { mkdir, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { LoopbackIpPool } from './ip-pool.js';
import { commandForContainer, containerEnv, resolvePort, type ImageMap } from './pod-spec.js';
import { startProcess, type ManagedProcess } from '../controlplane/processes.js';
import { repoRoot } from '../controlplane/controlplane.js';
import { ServiceProxy } from './service-proxy.js';

/** Options of {@link NodeAgent}. */
export interface NodeAgentOptions {
  /** Admin kubeconfig (the agent acts as the node; the test cluster's admin identity is simplest). */
  kubeconfig: string;
  /** Name of the Node it registers. Default `samplesource-local`. */
  nodeName?: string;
  /** Images it can run, by name prefix. */
  images: ImageMap;
  /** Pod logs go here, one file per container: `<namespace>_<pod>_<container>.log`. */
  logDir: string;
  /** Scratch space for volumes and kubeconfigs. */
  workDir: string;
  /** Second octet of the pod IP range 127.X.0.0/16. Default 42. */
  ipRangeOctet?: number;
  /** Second octet of the Service address range 127.X.0.0/16 (kube-proxy stand-in). Default 44. */
  serviceRangeOctet?: number;
  /** How often Pods are listed. Default 250 ms. */
  pollMs?: number;
  /** Extra environment for every process (PATH to node, for instance). Default this process's env. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Only Pods in these namespaces are bound and run (listed per namespace). Default every namespace. */
  namespaces?: string[];
}

interface RunningPod {
  uid: string;
  namespace: string;
  name: string;
  ip: string;
  dir: string;
  process?: ManagedProcess;
  restarts: number;
  ready: boolean;
  stopping: boolean;
  startedAt: string;
  /** Secret resourceVersions last written to disk, by volume name. */
  secretVersions: Map<string, string>;
  probeTimer?: NodeJS.Timeout;
  restartTimer?: NodeJS.Timeout;
}

/** Runs Pods as local processes; see the file comment. */
export class NodeAgent {
  readonly nodeName: string;
  private readonly core: k8s.CoreV1Api;
  private readonly kc: k8s.KubeConfig;
  private readonly ips: LoopbackIpPool;
  private readonly pods = new Map<string, RunningPod>();
  private pollTimer?: NodeJS.Timeout;
  private polling = false;
  /** The sync in progress, which stop() waits for so that it launches nothing after the kill. */
  private syncing: Promise<void> | undefined;
  private stopped = false;
  private readonly options: NodeAgentOptions;
  private readonly services: ServiceProxy;
  private readonly hostsFile: string;

  constructor(options: NodeAgentOptions) {
    this.options = options;
    this.hostsFile = join(options.workDir, 'cluster-hosts.json');
    const podOctet = options.ipRangeOctet ?? 100 + Math.floor(Math.random() * 100);
    this.ips = new LoopbackIpPool(podOctet);
    this.services = new ServiceProxy({
      hostsFile: this.hostsFile,
      ipRangeOctet: options.serviceRangeOctet ?? ((podOctet + 100) % 254) + 1,
    });
    this.nodeName = options.nodeName ?? 'samplesource-local';
    this.kc = new k8s.KubeConfig();
    this.kc.loadFromFile(options.kubeconfig);
    this.core = this.kc.makeApiClient(k8s.CoreV1Api);
  }

  /** Registers the Node and starts the loop. */
  async start(): Promise<void> {
    await mkdir(this.options.logDir, { recursive: true });
    await mkdir(this.options.workDir, { recursive: true });
    await this.registerNode();
    const loop = async () => {
      if (this.stopped) return;
      if (!this.polling) {
        this.polling = true;
        this.syncing = this.syncOnce().catch((err: unknown) =>
          this.warn(`sync failed: ${(err as Error).message}`),
        );
        await this.syncing;
        this.syncing = undefined;
        this.polling = false;
      }
      if (!this.stopped) this.pollTimer = setTimeout(() => void loop(), this.options.pollMs ?? 250);
    };
    await loop();
  }

  /** The pod IP and process of a running Pod, by namespace/name (for tests). */
  podProcess(namespace: string, name: string): { ip: string; pid?: number; restarts: number } | undefined {
    const pod = [...this.pods.values()].find((p) => p.namespace === namespace && p.name === name);
    return pod && { ip: pod.ip, pid: pod.process?.pid, restarts: pod.restarts };
  }

  /** Stops every process (SIGTERM, then SIGKILL) and the loop. Pods stay in the API. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pollTimer);
    this.services.stop();
    await this.syncing;
    await Promise.all([...this.pods.values()].map((p) => this.killPod(p)));
    this.pods.clear();
  }

  private async registerNode(): Promise<void> {
    const body: k8s.V1Node = {
      metadata: {
        name: this.nodeName,
        labels: { 'kubernetes.io/hostname': this.nodeName, 'samplesource.dev/local': 'true' },
      },
    };
    await this.core.createNode({ body }).catch((err: k8s.ApiException<unknown>) => {
      if (err.code !== 409) throw err;
    });
    await this.core.patchNodeStatus(
      {
        name: this.nodeName,
        body: {
          status: {
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'LocalAgentReady',
                message: 'samplesource node agent runs pods as local processes',
                lastHeartbeatTime: new Date().toISOString(),
                lastTransitionTime: new Date().toISOString(),
              },
            ],
            addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
          },
        },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  private async syncOnce(): Promise<void> {
    const namespaces = this.options.namespaces;
    const list = namespaces
      ? {
          items: (
            await Promise.all(namespaces.map((namespace) => this.core.listNamespacedPod({ namespace })))
          ).flatMap((l) => l.items),
        }
      : await this.core.listPodForAllNamespaces();
    const seen = new Set<string>();
    for (const pod of list.items) {
      const uid = pod.metadata?.uid;
      if (!uid) continue;
      const runnable = (pod.spec?.containers ?? []).every((c) => commandForContainer(c, this.options.images));
      if (!runnable) continue;
      if (!pod.spec?.nodeName) {
        if (!pod.metadata?.deletionTimestamp) await this.bind(pod);
        continue;
      }
      if (pod.spec.nodeName !== this.nodeName) continue;
      seen.add(uid);
      const running = this.pods.get(uid);
      if (pod.metadata?.deletionTimestamp) {
        if (running) await this.killPod(running);
        this.pods.delete(uid);
        // No kubelet confirms the deletion, so the agent finishes it, as a kubelet would after the grace period.
        await this.core
          .deleteNamespacedPod({
            name: pod.metadata.name!,
            namespace: pod.metadata.namespace!,
            gracePeriodSeconds: 0,
          })
          .catch(() => undefined);
        continue;
      }
      if (!running) await this.startPod(pod);
      else {
        // A Secret deleted under a running pod (its owner is going away) must not stall the other pods.
        await this.refreshSecrets(running, pod).catch((err: Error) =>
          this.warn(`secrets of ${running.name}: ${err.message}`),
        );
      }
    }
    for (const [uid, running] of this.pods) {
      if (!seen.has(uid)) {
        await this.killPod(running);
        this.pods.delete(uid);
      }
    }
    const services = await this.core.listServiceForAllNamespaces();
    await this.services.sync(services.items, list.items);
  }

  private async bind(pod: k8s.V1Pod): Promise<void> {
    await this.core
      .createNamespacedPodBinding({
        name: pod.metadata!.name!,
        namespace: pod.metadata!.namespace!,
        body: {
          metadata: { name: pod.metadata!.name!, namespace: pod.metadata!.namespace! },
          target: { apiVersion: 'v1', kind: 'Node', name: this.nodeName },
        },
      })
      .catch((err: k8s.ApiException<unknown>) => {
        if (err.code !== 409) this.warn(`bind ${pod.metadata?.name}: ${err.message}`);
      });
  }

  private async startPod(pod: k8s.V1Pod): Promise<void> {
    const uid = pod.metadata!.uid!;
    const running: RunningPod = {
      uid,
      namespace: pod.metadata!.namespace!,
      name: pod.metadata!.name!,
      ip: this.ips.allocate(),
      dir: join(this.options.workDir, uid),
      restarts: 0,
      ready: false,
      stopping: false,
      startedAt: new Date().toISOString(),
      secretVersions: new Map(),
    };
    this.pods.set(uid, running);
    await mkdir(running.dir, { recursive: true });
    try {
      await this.refreshSecrets(running, pod);
      await this.launch(running, pod);
    } catch (err) {
      this.warn(`pod ${running.namespace}/${running.name} cannot start: ${(err as Error).message}`);
      await this.patchStatus(running, pod, {
        waitingReason: 'CreateContainerConfigError',
        message: (err as Error).message,
      });
      await this.killPod(running);
      this.pods.delete(uid);
    }
  }

  /** Local directory standing in for each volume mount of the (single) container. */
  private mountDirs(running: RunningPod, pod: k8s.V1Pod): Record<string, string> {
    const mounts: Record<string, string> = {};
    for (const m of pod.spec?.containers[0]?.volumeMounts ?? [])
      mounts[m.mountPath] = join(running.dir, 'volumes', m.name);
    return mounts;
  }

  /** Writes Secret volumes to disk and rewrites them when the Secret changes (as the kubelet does). */
  private async refreshSecrets(running: RunningPod, pod: k8s.V1Pod): Promise<void> {
    for (const volume of pod.spec?.volumes ?? []) {
      const secretName = volume.secret?.secretName;
      if (!secretName) continue;
      const secret = await this.core
        .readNamespacedSecret({ name: secretName, namespace: running.namespace })
        .catch(() => undefined);
      if (!secret) {
        if (!volume.secret?.optional) throw new Error(`secret ${secretName} not found`);
        continue;
      }
      const version = secret.metadata?.resourceVersion ?? '';
      if (running.secretVersions.get(volume.name) === version) continue;
      const dir = join(running.dir, 'volumes', volume.name);
      await mkdir(dir, { recursive: true });
      for (const [key, b64] of Object.entries(secret.data ?? {})) {
        // Write then rename, so a reader never sees half a file.
        const tmp = join(dir, `.${key}.tmp`);
        await writeFile(tmp, Buffer.from(b64, 'base64'), { mode: 0o600 });
        await rename(tmp, join(dir, key));
      }
      running.secretVersions.set(volume.name, version);
    }
  }

  private async launch(running: RunningPod, pod: k8s.V1Pod): Promise<void> {
    const container = pod.spec!.containers[0]!;
    const image = commandForContainer(container, this.options.images)!;
    const mounts = this.mountDirs(running, pod);
    const env = await containerEnv(pod, container, running.ip, mounts, {
      secret: async (name) => {
        const s = await this.core
          .readNamespacedSecret({ name, namespace: running.namespace })
          .catch(() => undefined);
        return (
          s &&
          Object.fromEntries(
            Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
          )
        );
      },
    });
    const serviceAccount = pod.spec?.serviceAccountName;
    if (serviceAccount && pod.spec?.automountServiceAccountToken !== false) {
      // Stands in for the projected service-account token: a kubeconfig with a real token of the Pod's SA.
      env.KUBECONFIG = await this.serviceAccountKubeconfig(running, serviceAccount);
    }
    // stop() (or the pod's deletion) may have come while the environment was read: start nothing then,
    // or the process would outlive the agent (seen with two e2e files, each with its own agent).
    if (running.stopping || this.stopped) return;
    const logFile = join(this.options.logDir, `${running.namespace}_${running.name}_${container.name}.log`);
    running.process = startProcess(
      `${running.namespace}/${running.name}`,
      image.command,
      [...image.args, ...(container.args ?? [])],
      logFile,
      {
        PATH: process.env.PATH,
        ...(this.options.baseEnv ?? {}),
        ...env,
        HOSTNAME: running.name,
        // Cluster DNS stand-in: Service names resolve to the agent's service proxy (see dns-shim.mjs).
        NODE_OPTIONS: [env.NODE_OPTIONS, `--import=${join(repoRoot, 'test/nodeagent/dns-shim.mjs')}`]
          .filter(Boolean)
          .join(' '),
        NODEAGENT_HOSTS_FILE: this.hostsFile,
        NODEAGENT_POD_NAMESPACE: running.namespace,
        NODEAGENT_POD_IP: running.ip,
      },
    );
    running.startedAt = new Date().toISOString();
    running.ready = false;
    void running.process.exited.then((code) => this.onExit(running, pod, code));
    await this.patchStatus(running, pod);
    this.scheduleProbe(running, pod, container);
  }

  private async serviceAccountKubeconfig(running: RunningPod, serviceAccount: string): Promise<string> {
    const token = await this.core.createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace: running.namespace,
      body: { spec: { audiences: [], expirationSeconds: 24 * 3600 } },
    });
    const cluster = this.kc.getCurrentCluster()!;
    const file = join(running.dir, 'kubeconfig');
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'local', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } },
      ],
      users: [{ name: serviceAccount, user: { token: token.status!.token } }],
      contexts: [
        { name: 'local', context: { cluster: 'local', user: serviceAccount, namespace: running.namespace } },
      ],
      'current-context': 'local',
    };
    await writeFile(file, JSON.stringify(config), { mode: 0o600 });
    return file;
  }

  private scheduleProbe(running: RunningPod, pod: k8s.V1Pod, container: k8s.V1Container): void {
    const probe = container.readinessProbe;
    const periodMs = Math.min((probe?.periodSeconds ?? 10) * 1000, 500);
    const tick = async () => {
      if (running.stopping || !running.process || running.process.child.exitCode !== null) return;
      let ready = true;
      if (probe?.httpGet) {
        const port = resolvePort(container, probe.httpGet.port);
        ready = await httpProbe(running.ip, port, probe.httpGet.path ?? '/');
      }
      if (ready !== running.ready) {
        running.ready = ready;
        await this.patchStatus(running, pod).catch((err: Error) =>
          this.warn(`status ${running.name}: ${err.message}`),
        );
      }
      running.probeTimer = setTimeout(() => void tick(), periodMs);
    };
    running.probeTimer = setTimeout(() => void tick(), 100);
  }

  private onExit(running: RunningPod, pod: k8s.V1Pod, code: number | NodeJS.Signals): void {
    clearTimeout(running.probeTimer);
    if (running.stopping || this.stopped) return;
    running.ready = false;
    running.restarts += 1;
    this.warn(`pod ${running.namespace}/${running.name} exited (${code}); restart ${running.restarts}`);
    void this.patchStatus(running, pod, {
      waitingReason: 'CrashLoopBackOff',
      message: `exited with ${code}`,
    }).catch(() => undefined);
    // Kubelet-style restart backoff, kept short for tests: 0.5 s doubling to 5 s.
    const delay = Math.min(500 * 2 ** (running.restarts - 1), 5_000);
    running.restartTimer = setTimeout(() => {
      if (!running.stopping && !this.stopped) {
        void this.launch(running, pod).catch((err: Error) =>
          this.warn(`restart ${running.name}: ${err.message}`),
        );
      }
    }, delay);
  }

  private async killPod(running: RunningPod): Promise<void> {
    running.stopping = true;
    clearTimeout(running.probeTimer);
    clearTimeout(running.restartTimer);
    await running.process?.stop(10_000);
    this.ips.release(running.ip);
    await rm(running.dir, { recursive: true, force: true });
  }

  private async patchStatus(
    running: RunningPod,
    pod: k8s.V1Pod,
    waiting?: { waitingReason: string; message: string },
  ): Promise<void> {
    const now = new Date().toISOString();
    const container = pod.spec!.containers[0]!;
    const ready = running.ready && !waiting;
    const cond = (type: string, status: boolean) => ({
      type,
      status: status ? 'True' : 'False',
      lastTransitionTime: now,
    });
    const body = {
      status: {
        phase: 'Running',
        hostIP: '127.0.0.1',
        hostIPs: [{ ip: '127.0.0.1' }],
        podIP: running.ip,
        podIPs: [{ ip: running.ip }],
        startTime: running.startedAt,
        conditions: [
          cond('PodScheduled', true),
          cond('Initialized', true),
          cond('ContainersReady', ready),
          cond('Ready', ready),
        ],
        containerStatuses: [
          {
            name: container.name,
            image: container.image,
            imageID: `local://${container.image}`,
            containerID: `local://${running.process?.pid ?? 0}`,
            ready,
            started: !waiting,
            restartCount: running.restarts,
            state: waiting
              ? { waiting: { reason: waiting.waitingReason, message: waiting.message } }
              : { running: { startedAt: running.startedAt } },
          },
        ],
      },
    };
    await this.core.patchNamespacedPodStatus(
      { name: running.name, namespace: running.namespace, body },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  private warn(message: string): void {
    console.warn(`[nodeagent] ${message}`);
  }
}

/** An HTTP readiness probe against a loopback pod IP. */
function httpProbe(ip: string, port: number, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: ip, port, path, timeout: 1_000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) >= 200 && (res.statusCode ?? 500) < 400);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
