// The whole system for end-to-end tests: config/ installed with kubectl, the operator and the
// adapters running as Pods. By default on the real node (test/node: kubelet, containerd, runc, the
// images built from the Dockerfiles); with E2E_PLATFORM=local the node agent runs those Pods as
// plain processes on loopback pod IPs; against kind (E2E_PLATFORM=kind) the same suite drives its containers.
import * as k8s from '@kubernetes/client-node';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NodeAgent } from '../nodeagent/agent.js';
import { nodeClient, nodeHandleFromEnv, type NodeClient } from '../node/client.js';
import { repoRoot } from '../controlplane/controlplane.js';
import {
  adminKubeConfig,
  adminKubeconfigPath,
  controlPlaneLogs,
  eventually,
  kubectl,
} from '../support/cluster.js';

/** Namespace config/ installs the operator into. */
export const SYSTEM_NAMESPACE = 'samplesource-system';
/** Image names in config/ that the local node agent knows how to run. */
export const OPERATOR_IMAGE = 'samplesource-operator';
export const ADAPTER_IMAGE = 'samplesource-adapter';
/** example.yaml's sink: Knative's event display, played locally by test/nodeagent/images/event-display.mjs. */
export const EVENT_DISPLAY_IMAGE = 'gcr.io/knative-releases/knative.dev/eventing/cmd/event_display';

/** What a scenario can do to the platform underneath (processes locally, containers on kind). */
export interface Platform {
  readonly name: 'local' | 'kind' | 'node';
  /** Kills the main process of a Pod's container at once (SIGKILL); the Pod itself stays. */
  killContainer(namespace: string, pod: string): Promise<void>;
  /** The container's process id, to prove it was not restarted (undefined where not observable). */
  containerPid(namespace: string, pod: string): number | undefined;
  /** Where the Pod's log can be read from, for assertions on what the adapter did. */
  podLog(namespace: string, pod: string, container: string): string;
  stop(): Promise<void>;
}

function localPlatform(agent: NodeAgent, logDir: string): Platform {
  return {
    name: 'local',
    async killContainer(namespace, pod) {
      const pid = agent.podProcess(namespace, pod)?.pid;
      if (!pid) throw new Error(`no process for pod ${namespace}/${pod}`);
      process.kill(pid, 'SIGKILL');
    },
    containerPid: (namespace, pod) => agent.podProcess(namespace, pod)?.pid,
    podLog: (namespace, pod, container) => {
      const file = join(logDir, `${namespace}_${pod}_${container}.log`);
      return existsSync(file) ? readFileSync(file, 'utf8') : '';
    },
    stop: () => agent.stop(),
  };
}

function kindPlatform(): Platform {
  return {
    name: 'kind',
    async killContainer(namespace, pod) {
      // PID 1 of the container is node; the kubelet restarts the container in the same Pod.
      kubectl(['-n', namespace, 'exec', pod, '--', 'kill', '-9', '1']);
    },
    containerPid: () => undefined,
    podLog: (namespace, pod, container) => kubectl(['-n', namespace, 'logs', pod, '-c', container]),
    stop: async () => undefined,
  };
}

/** Container names by Pod, as the API server lists them (the first is the main one). */
async function mainContainer(namespace: string, pod: string): Promise<string> {
  const core = adminKubeConfig().makeApiClient(k8s.CoreV1Api);
  const p = await core.readNamespacedPod({ namespace, name: pod });
  return p.spec!.containers[0]!.name;
}

/** The real node: containers under kubelet and containerd; signals go to their host pids. */
function nodePlatform(client: NodeClient): Platform {
  const containers = new Map<string, string>();
  const container = async (namespace: string, pod: string) => {
    const key = `${namespace}/${pod}`;
    if (!containers.has(key)) containers.set(key, await mainContainer(namespace, pod));
    return containers.get(key)!;
  };
  return {
    name: 'node',
    async killContainer(namespace, pod) {
      // PID 1 of a container ignores SIGKILL sent from inside its own pid namespace; from the host it dies.
      const pid = client.containerPid(namespace, pod, await container(namespace, pod));
      if (!pid) throw new Error(`no running container in pod ${namespace}/${pod}`);
      process.kill(pid, 'SIGKILL');
    },
    containerPid: (namespace, pod) => {
      const name = containers.get(`${namespace}/${pod}`);
      return name ? client.containerPid(namespace, pod, name) : client.containerPid(namespace, pod, '.*');
    },
    podLog: (namespace, pod, name) => kubectl(['-n', namespace, 'logs', pod, '-c', name]),
    stop: async () => undefined,
  };
}

/** Operator settings tests need shorter than production defaults (failover within seconds). */
const FAST_OPERATOR_ENV = [
  'LEASE_DURATION_MS=4000',
  'RENEW_DEADLINE_MS=3000',
  'RETRY_PERIOD_MS=500',
  'LOG_LEVEL=debug',
];

/**
 * Installs config/ (as a user would: `kubectl apply -f config/`) and waits for a Ready operator.
 * Locally it first starts a node agent that runs the operator and adapter images from dist/.
 */
export async function startSystem(): Promise<Platform> {
  let platform: Platform;
  const name = process.env.E2E_PLATFORM ?? 'node';
  if (name === 'kind') {
    platform = kindPlatform();
  } else if (name === 'node') {
    const handle = nodeHandleFromEnv();
    if (!handle) throw new Error('no real node published by the global setup (SAMPLESOURCE_NODE_*)');
    platform = nodePlatform(nodeClient(handle));
  } else {
    for (const entry of ['dist/operator/main.js', 'dist/adapter/main.js']) {
      if (!existsSync(join(repoRoot, entry)))
        throw new Error(`${entry} is missing: run \`npm run build\` first`);
    }
    const logDir = join(controlPlaneLogs(), 'pods');
    const node = (script: string) => ({
      command: process.execPath,
      args: ['--enable-source-maps', join(repoRoot, script)],
    });
    const agent = new NodeAgent({
      kubeconfig: adminKubeconfigPath(),
      nodeName: 'samplesource-e2e',
      images: {
        [OPERATOR_IMAGE]: node('dist/operator/main.js'),
        [ADAPTER_IMAGE]: node('dist/adapter/main.js'),
        [EVENT_DISPLAY_IMAGE]: node('test/nodeagent/images/event-display.mjs'),
      },
      logDir,
      workDir: join(controlPlaneLogs(), 'agent-work'),
    });
    await agent.start();
    platform = localPlatform(agent, logDir);
  }
  kubectl(['apply', '-f', join(repoRoot, 'config')]);
  kubectl(['-n', SYSTEM_NAMESPACE, 'set', 'env', 'deployment/samplesource-operator', ...FAST_OPERATOR_ENV]);
  await waitForOperators(1);
  return platform;
}

/** Ready operator pods, waiting until there are `count`. */
export async function waitForOperators(count: number): Promise<k8s.V1Pod[]> {
  const core = adminKubeConfig().makeApiClient(k8s.CoreV1Api);
  return eventually(
    `${count} Ready operator pod(s)`,
    async () => {
      const pods = (
        await core.listNamespacedPod({
          namespace: SYSTEM_NAMESPACE,
          labelSelector: 'app.kubernetes.io/name=samplesource-operator',
        })
      ).items.filter((p) => !p.metadata?.deletionTimestamp);
      const ready = pods.filter((p) =>
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      return ready.length === count && pods.length === count ? ready : undefined;
    },
    90_000,
  );
}
