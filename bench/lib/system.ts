// A standalone stand-in for the e2e suite's jest global setup: a real control plane (etcd,
// kube-apiserver, kube-controller-manager), a node agent running the operator (and, where asked,
// adapter) images as local processes, and config/ applied with kubectl. Loopback only.
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import {
  startControlPlane,
  type ControlPlane,
  exportControlPlaneEnv,
} from '../../test/controlplane/controlplane.js';
import { NodeAgent } from '../../test/nodeagent/agent.js';
import { adminKubeConfig, kubectl } from '../../test/support/cluster.js';
import { ADAPTER_IMAGE, OPERATOR_IMAGE, SYSTEM_NAMESPACE, waitForOperators } from '../../test/e2e/system.js';
import { repoRoot, rssOf } from './report.js';

/** Options of {@link startBenchSystem}. */
export interface BenchSystemOptions {
  /** Namespaces whose adapter pods really run; undefined = all. The operator's namespace is always run. */
  adapterNamespaces?: string[];
  /** Extra operator environment (`kubectl set env`), e.g. WORKERS=8. */
  operatorEnv?: string[];
  /** Second octets of the pod and Service ranges 127.X.0.0/16. Default 61 and 62. */
  ipRangeOctets?: [number, number];
}

/** A running system. */
export interface BenchSystem {
  cp: ControlPlane;
  agent: NodeAgent;
  kc: k8s.KubeConfig;
  operatorPod: string;
  /** Operator process id (a node-agent process on a 127.x pod IP). */
  operatorPid(): number | undefined;
  /** Operator VmRSS, bytes. */
  operatorRss(): number | undefined;
  stop(): Promise<void>;
}

/** Starts the control plane, the node agent and the operator from dist/ (run `npm run build` first). */
export async function startBenchSystem(options: BenchSystemOptions = {}): Promise<BenchSystem> {
  const t0 = performance.now();
  const cp = await startControlPlane({ controllerManager: true });
  // What test/support/cluster.ts reads (jest's global setup does the same).
  exportControlPlaneEnv(cp);
  const node = (script: string) => ({
    command: process.execPath,
    args: ['--enable-source-maps', join(repoRoot, script)],
  });
  let agent: NodeAgent | undefined;
  try {
    agent = new NodeAgent({
      kubeconfig: cp.adminKubeconfig,
      nodeName: 'samplesource-bench',
      images: {
        [OPERATOR_IMAGE]: node('dist/operator/main.js'),
        [ADAPTER_IMAGE]: node('dist/adapter/main.js'),
      },
      logDir: join(cp.logDir, 'pods'),
      workDir: join(cp.logDir, 'agent-work'),
      // Other engineers' e2e runs on this machine use 127.42/127.44: keep out of their way.
      ipRangeOctet: options.ipRangeOctets?.[0] ?? 61,
      serviceRangeOctet: options.ipRangeOctets?.[1] ?? 62,
      ...(options.adapterNamespaces ? { namespaces: [SYSTEM_NAMESPACE, ...options.adapterNamespaces] } : {}),
    });
    await agent.start();
    kubectl(['apply', '-f', join(repoRoot, 'config')]);
    if (options.operatorEnv?.length)
      kubectl([
        '-n',
        SYSTEM_NAMESPACE,
        'set',
        'env',
        'deployment/samplesource-operator',
        ...options.operatorEnv,
      ]);
    const cleanup = (signal: string) => {
      console.error(`${signal}: stopping the system`);
      void (async () => {
        await agent?.stop().catch(() => undefined);
        await cp.stop().catch(() => undefined);
        process.exit(130);
      })();
    };
    process.once('SIGINT', () => cleanup('SIGINT'));
    process.once('SIGTERM', () => cleanup('SIGTERM'));
    const [pod] = await waitForOperators(1);
    const operatorPod = pod!.metadata!.name!;
    const a = agent;
    const operatorPid = () => a.podProcess(SYSTEM_NAMESPACE, operatorPod)?.pid;
    console.log(
      `system ready in ${Math.round(performance.now() - t0)} ms (control plane ${cp.startupMs} ms); logs in ${cp.logDir}`,
    );
    return {
      cp,
      agent: a,
      kc: adminKubeConfig(),
      operatorPod,
      operatorPid,
      operatorRss: () => {
        const pid = operatorPid();
        return pid ? rssOf(pid) : undefined;
      },
      stop: async () => {
        await a.stop();
        await cp.stop();
      },
    };
  } catch (err) {
    await agent?.stop().catch(() => undefined);
    await cp.stop();
    throw err;
  }
}

/** Creates a namespace (idempotent). */
export async function ensureNamespace(kc: k8s.KubeConfig, name: string): Promise<void> {
  await kc
    .makeApiClient(k8s.CoreV1Api)
    .createNamespace({ body: { metadata: { name } } })
    .catch((err: { code?: number }) => {
      if (err.code !== 409) throw err;
    });
}
