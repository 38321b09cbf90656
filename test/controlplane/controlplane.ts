// A real Kubernetes control plane on loopback for tests and the demo: etcd, kube-apiserver and,
// optionally, kube-controller-manager, started the way controller-runtime's envtest starts them.
import { execFileSync } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeControlPlanePki, type ControlPlanePki } from './pki-files.js';
import { writeKubeconfig } from './kubeconfig.js';
import { kubeconfigForServiceAccount, kubeconfigForUser, type IdentityContext } from './identities.js';
import { FatalWaitError, freePort, startProcess, waitFor, type ManagedProcess } from './processes.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (this file lives in test/controlplane, or dist/test/controlplane). */
export const repoRoot = resolve(here, existsSync(join(here, '../../package.json')) ? '../..' : '../../..');

/** Options for {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /** Also start kube-controller-manager (garbage collection, Deployments to ReplicaSets to Pods). Default true. */
  controllerManager?: boolean;
  /** Where logs go; kept after stop so a failing test can point at them. Default `.tmp/logs/<time>` in the repo. */
  logDir?: string;
  /** Directory with etcd, kube-apiserver, kube-controller-manager and kubectl. Default: built by build.sh. */
  binDir?: string;
  /** How long to wait for readiness. Default 90 s (2 cores, cold page cache). */
  startTimeoutMs?: number;
  /**
   * Serve a real node (test/node): listen on the veth's host end instead of loopback (the node's
   * kubelet and pods reach the server there), advertise it as the `kubernetes` Service's endpoint,
   * admit ServiceAccount tokens into pods, authorize kubelets as nodes and start kube-scheduler.
   * Default: none (loopback only, no scheduler; pods are bound by whoever runs them).
   */
  realNode?: {
    hostAddress: string;
    /** The kube-scheduler binary (built with the node). */ schedulerPath: string;
  };
  /** Extra kube-apiserver flags (e.g. `--watch-cache=false` so etcd compaction yields 410 Gone). Default none. */
  extraApiServerArgs?: string[];
}

/** A running control plane. */
export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  readonly adminKubeconfig: string;
  readonly kubectlPath: string;
  readonly binDir: string;
  readonly logDir: string;
  /** Holds client-ca.crt and client-ca.key (private; removed on stop). */
  readonly clientCaDir: string;
  readonly processes: readonly ManagedProcess[];
  /** Milliseconds from start to a ready apiserver. */
  readonly startupMs: number;
  /** A kubeconfig for a user authenticated by a client certificate from the cluster's client CA. */
  kubeconfigForUser(user: string, groups?: string[]): Promise<string>;
  /** A kubeconfig holding a token for an existing ServiceAccount, issued by the TokenRequest API. */
  kubeconfigForServiceAccount(namespace: string, name: string): Promise<string>;
  /** An admin request to the apiserver; resolves with status and parsed JSON (or text). */
  adminRequest(method: string, path: string, body?: unknown, contentType?: string): Promise<ApiResponse>;
  /** Runs the matching kubectl as admin; returns stdout, throws with stderr on failure. */
  kubectl(args: string[], input?: string): string;
  /** Stops every process and removes the data directory (not the logs). Safe to call twice. */
  stop(): Promise<void>;
  /** etcd's client URL (http://127.0.0.1:<port>), for etcdctl (built next to etcd in binDir). */
  readonly etcdEndpoint: string;
  /** Stops kube-apiserver (SIGTERM) and starts it again with the same flags and port; resolves once ready. */
  restartApiServer(): Promise<void>;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** Where build.sh put the binaries, building them first when the cache is cold. */
export function controlPlaneBinDir(): string {
  const fromEnv = process.env.SAMPLESOURCE_CP_BIN;
  if (fromEnv) return fromEnv;
  const out = execFileSync('bash', [join(repoRoot, 'test/controlplane/build.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  const lines = out.trim().split('\n');
  return lines[lines.length - 1]!;
}

/** Starts etcd and kube-apiserver (and kube-controller-manager) on free loopback ports. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const started = Date.now();
  const binDir = options.binDir ?? controlPlaneBinDir();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logDir = options.logDir ?? join(repoRoot, '.tmp/logs', `controlplane-${stamp}-${process.pid}`);
  await mkdir(logDir, { recursive: true });
  const dataDir = await mkdtemp(join(tmpdir(), 'samplesource-cp-'));
  const processes: ManagedProcess[] = [];
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // Reverse start order: controllers first, storage last.
    for (const p of [...processes].reverse()) await p.stop();
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    const realNode = options.realNode;
    const apiAddress = realNode?.hostAddress ?? '127.0.0.1';
    const pki = await writeControlPlanePki(dataDir, realNode ? [realNode.hostAddress, '10.0.0.1'] : []);
    const [etcdClientPort, etcdPeerPort] = [await freePort(), await freePort()];
    const apiPort = await freePort(apiAddress);
    const server = `https://${apiAddress}:${apiPort}`;

    if (realNode) {
      // The API server's client certificate towards kubelets (for logs, exec, port-forward).
      const kubeletClient = await pki.clientCa.issue({
        commonName: 'kube-apiserver-kubelet-client',
        organizations: ['system:masters'],
        usages: ['client'],
      });
      await writeFile(join(dataDir, 'kubelet-client.crt'), kubeletClient.certPem, { mode: 0o600 });
      await writeFile(join(dataDir, 'kubelet-client.key'), kubeletClient.keyPem, { mode: 0o600 });
    }

    const etcd = startProcess(
      'etcd',
      join(binDir, 'etcd'),
      [
        `--data-dir=${join(dataDir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClientPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClientPort}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      join(logDir, 'etcd.log'),
    );
    processes.push(etcd);
    await waitFor(
      `etcd /health (log: ${etcd.logFile})`,
      async () => (await plainGet(`http://127.0.0.1:${etcdClientPort}/health`)) === 200,
      30_000,
      100,
    );

    const apiserverArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdClientPort}`,
      `--cert-dir=${dataDir}`,
      `--tls-cert-file=${pki.files.servingCert}`,
      `--tls-private-key-file=${pki.files.servingKey}`,
      `--secure-port=${apiPort}`,
      `--bind-address=${apiAddress}`,
      `--client-ca-file=${pki.files.clientCaCert}`,
      '--allow-privileged=true',
      ...(realNode
        ? [
            // The `kubernetes` Service's endpoint is this address: pods reach the server through it.
            `--advertise-address=${apiAddress}`,
            '--authorization-mode=Node,RBAC',
            '--enable-admission-plugins=NodeRestriction',
            // Logs and exec go to the kubelet's address, not to a host name the machine cannot resolve.
            '--kubelet-preferred-address-types=InternalIP',
            `--kubelet-client-certificate=${join(dataDir, 'kubelet-client.crt')}`,
            `--kubelet-client-key=${join(dataDir, 'kubelet-client.key')}`,
          ]
        : [
            // Pin loopback: without a default route the server cannot pick an address to advertise,
            // and the endpoints reconciler refuses loopback addresses.
            '--advertise-address=127.0.0.1',
            '--endpoint-reconciler-type=none',
            '--authorization-mode=RBAC',
            // Without kubelets nobody creates default ServiceAccounts' tokens; pods must not wait for them.
            '--disable-admission-plugins=ServiceAccount',
          ]),
      '--service-cluster-ip-range=10.0.0.0/24',
      `--service-account-issuer=${server}/`,
      `--service-account-key-file=${pki.files.saSignerCert}`,
      `--service-account-signing-key-file=${pki.files.saSignerKey}`,
      '--v=1',
      ...(options.extraApiServerArgs ?? []),
    ];
    let apiserver = startProcess(
      'kube-apiserver',
      join(binDir, 'kube-apiserver'),
      apiserverArgs,
      join(logDir, 'kube-apiserver.log'),
    );
    processes.push(apiserver);

    const adminRequest = (method: string, path: string, body?: unknown, contentType?: string) =>
      apiRequest(server, pki, method, path, body, contentType);
    const apiserverReady = () =>
      waitFor(
        `kube-apiserver /readyz (log: ${apiserver.logFile})`,
        async () => {
          if (apiserver.child.exitCode !== null)
            throw new Error(`kube-apiserver exited (log: ${apiserver.logFile})`);
          return (await adminRequest('GET', '/readyz')).status === 200;
        },
        options.startTimeoutMs ?? 90_000,
        250,
      );
    await apiserverReady();
    const startupMs = Date.now() - started;

    const adminKubeconfig = await writeKubeconfig(
      join(logDir, 'admin.kubeconfig'),
      server,
      pki.servingCaPem,
      'admin',
      {
        clientCertPem: pki.admin.certPem,
        clientKeyPem: pki.admin.keyPem,
      },
    );

    if (options.controllerManager ?? true) {
      const kcmPort = await freePort();
      const kcm = startProcess(
        'kube-controller-manager',
        join(binDir, 'kube-controller-manager'),
        [
          `--kubeconfig=${adminKubeconfig}`,
          `--authentication-kubeconfig=${adminKubeconfig}`,
          `--authorization-kubeconfig=${adminKubeconfig}`,
          '--leader-elect=false',
          '--bind-address=127.0.0.1',
          `--secure-port=${kcmPort}`,
          `--service-account-private-key-file=${pki.files.saSignerKey}`,
          `--root-ca-file=${pki.files.servingCaCert}`,
          '--service-cluster-ip-range=10.0.0.0/24',
          // What tests need: garbage collection, namespaces, Deployments -> ReplicaSets -> Pods, and
          // ServiceAccounts. Cloud, node and volume controllers have nothing to manage here.
          '--controllers=' +
            [
              'garbage-collector-controller',
              'namespace-controller',
              'deployment-controller',
              'replicaset-controller',
              'pod-garbage-collector-controller',
              'serviceaccount-controller',
              'root-ca-certificate-publisher-controller',
              'clusterrole-aggregation-controller',
              'endpointslice-controller',
              // A real node registers tainted not-ready; this controller lifts the taint once it is Ready.
              ...(realNode ? ['node-lifecycle-controller'] : []),
            ].join(','),
          '--concurrent-gc-syncs=5',
          '--v=1',
        ],
        join(logDir, 'kube-controller-manager.log'),
      );
      processes.push(kcm);
      await waitFor(
        `kube-controller-manager /healthz (log: ${kcm.logFile})`,
        async () => {
          if (kcm.child.exitCode !== null)
            throw new FatalWaitError(`kube-controller-manager exited (log: ${kcm.logFile})`);
          return (await insecureGet(`https://127.0.0.1:${kcmPort}/healthz`)) === 200;
        },
        options.startTimeoutMs ?? 90_000,
        250,
      );
    }

    if (realNode) {
      // Pods are bound to the real node by the real scheduler, under its own least-privilege identity.
      const schedulerKubeconfig = await kubeconfigForUser(
        {
          server,
          servingCaPem: pki.servingCaPem,
          clientCa: pki.clientCa,
          outDir: logDir,
          requestToken: () => Promise.reject(new Error('unused')),
        },
        'system:kube-scheduler',
      );
      const schedulerPort = await freePort();
      const scheduler = startProcess(
        'kube-scheduler',
        realNode.schedulerPath,
        [
          `--kubeconfig=${schedulerKubeconfig}`,
          '--leader-elect=false',
          '--bind-address=127.0.0.1',
          `--secure-port=${schedulerPort}`,
          '--v=1',
        ],
        join(logDir, 'kube-scheduler.log'),
      );
      processes.push(scheduler);
      await waitFor(
        `kube-scheduler /healthz (log: ${scheduler.logFile})`,
        async () => {
          if (scheduler.child.exitCode !== null)
            throw new FatalWaitError(`kube-scheduler exited (log: ${scheduler.logFile})`);
          return (await insecureGet(`https://127.0.0.1:${schedulerPort}/healthz`)) === 200;
        },
        options.startTimeoutMs ?? 90_000,
        250,
      );
    }

    const kubectlPath = join(binDir, 'kubectl');
    // The client CA's key lets test workers mint certificate users; it lives only in the private data dir.
    await writeFile(join(dataDir, 'client-ca.key'), pki.clientCa.keyPem, { mode: 0o600 });
    const identityContext: IdentityContext = {
      server,
      servingCaPem: pki.servingCaPem,
      clientCa: pki.clientCa,
      outDir: logDir,
      async requestToken(namespace, name, expirationSeconds) {
        const res = await adminRequest(
          'POST',
          `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
          {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenRequest',
            spec: { expirationSeconds },
          },
        );
        const token = (res.body as { status?: { token?: string } }).status?.token;
        if (res.status !== 201 || !token) {
          throw new Error(
            `TokenRequest for ${namespace}/${name} failed: ${res.status} ${JSON.stringify(res.body)}`,
          );
        }
        return token;
      },
    };
    return {
      server,
      adminKubeconfig,
      kubectlPath,
      binDir,
      logDir,
      clientCaDir: dataDir,
      processes,
      startupMs,
      adminRequest,
      stop,
      etcdEndpoint: `http://127.0.0.1:${etcdClientPort}`,
      async restartApiServer() {
        const index = processes.indexOf(apiserver);
        await apiserver.stop();
        apiserver = startProcess(
          'kube-apiserver',
          join(binDir, 'kube-apiserver'),
          apiserverArgs,
          join(logDir, 'kube-apiserver.log'),
        );
        processes[index] = apiserver;
        await apiserverReady();
      },
      kubeconfigForUser: (user, groups) => kubeconfigForUser(identityContext, user, groups),
      kubeconfigForServiceAccount: (namespace, name) =>
        kubeconfigForServiceAccount(identityContext, namespace, name),
      kubectl(args, input) {
        return execFileSync(kubectlPath, [`--kubeconfig=${adminKubeconfig}`, ...args], {
          encoding: 'utf8',
          input,
          stdio: ['pipe', 'pipe', 'pipe'],
        });
      },
    };
  } catch (err) {
    await stop();
    throw new Error(`control plane failed to start (logs in ${logDir}): ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** GET against a component's self-signed health endpoint (loopback only; nothing secret is sent). */
function insecureGet(url: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const req = httpsRequest(url, { timeout: 2_000, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolvePromise(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function plainGet(url: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest(url, { timeout: 2_000 }, (res) => {
      res.resume();
      resolvePromise(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function apiRequest(
  server: string,
  pki: ControlPlanePki,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<ApiResponse> {
  return new Promise((resolvePromise, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpsRequest(
      new URL(path, server),
      {
        method,
        ca: pki.servingCaPem,
        cert: pki.admin.certPem,
        key: pki.admin.keyPem,
        timeout: 10_000,
        headers: payload ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* not JSON: keep the text */
          }
          resolvePromise({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

/**
 * Publishes a running control plane to this process's environment, where test/support/cluster.ts
 * (and processes forked after this, such as jest workers) find it.
 */
export function exportControlPlaneEnv(cp: ControlPlane): void {
  process.env.SAMPLESOURCE_KUBECONFIG = cp.adminKubeconfig;
  process.env.SAMPLESOURCE_KUBECTL = cp.kubectlPath;
  process.env.SAMPLESOURCE_CP_BIN = cp.binDir;
  process.env.SAMPLESOURCE_CP_LOGS = cp.logDir;
  process.env.SAMPLESOURCE_CP_SERVER = cp.server;
  process.env.SAMPLESOURCE_CP_CLIENT_CA_DIR = cp.clientCaDir;
}
