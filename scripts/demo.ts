// `make demo`: the whole system on this machine, no cluster needed. A real etcd, kube-apiserver
// and kube-controller-manager; where the machine allows (root, cgroup v1), the real node of the
// tests runs the operator, the adapters and the event display as containers from the images built
// from the Dockerfiles; elsewhere (or with DEMO_NODE=agent) the node agent runs them as processes
// on loopback pod IPs; config/ and example.yaml applied with kubectl.
// Then it shows what happens: heartbeats arriving, commands applied, conditions changing.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { startControlPlane, repoRoot, type ControlPlane } from '../test/controlplane/controlplane.js';
import { NodeAgent } from '../test/nodeagent/agent.js';
import { baseImagesDir, prepareNode, realNodeSupported } from '../test/node/node.js';
import { ensureProjectImages } from '../test/node/images.js';
import { followLogs } from './log-follower.js';

const run = promisify(execFile);
const EVENT_DISPLAY_IMAGE = 'gcr.io/knative-releases/knative.dev/eventing/cmd/event_display';

/** kubectl without blocking the event loop: the node agent runs in this process and must keep going. */
async function kubectl(cp: ControlPlane, args: string[]): Promise<string> {
  const { stdout } = await run(cp.kubectlPath, [`--kubeconfig=${cp.adminKubeconfig}`, ...args], {
    maxBuffer: 1 << 20,
  });
  return stdout;
}

function step(text: string): void {
  console.log(`\x1b[1m▶ ${text}\x1b[0m`);
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      /* not there yet */
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Prints the SampleSource's conditions whenever they change. */
function watchConditions(cp: ControlPlane): () => void {
  let last = '';
  let busy = false;
  const timer = setInterval(() => void poll(), 500);
  async function poll(): Promise<void> {
    if (busy) return;
    busy = true;
    try {
      const out = await kubectl(cp, [
        'get',
        'samplesource',
        'sample-source',
        '-o',
        'jsonpath={.metadata.generation} {.spec.interval} {.spec.paused}|{range .status.conditions[*]}{.type}={.status}{" "}{.reason}{";"}{end}',
      ]);
      if (out === last) return;
      last = out;
      const [head, conds] = out.split('|');
      const [generation, interval, paused] = (head ?? '').split(' ');
      const shown = (conds ?? '')
        .split(';')
        .filter(Boolean)
        .map((c) => {
          const [state, reason] = c.split(' ');
          const [type, status] = (state ?? '').split('=');
          const colour = status === 'True' ? 32 : status === 'False' ? 31 : 33;
          return `\x1b[${colour}m${type}=${status}${reason ? `(${reason})` : ''}\x1b[0m`;
        })
        .join(' ');
      console.log(
        `\x1b[1msamplesource/sample-source\x1b[0m gen ${generation} interval ${interval}${paused === 'true' ? ' paused' : ''} │ ${shown}`,
      );
    } catch {
      /* not created yet */
    } finally {
      busy = false;
    }
  }
  return () => clearInterval(timer);
}

/** The real node (test/node) beside the control plane, with both images built by BuildKit. */
async function startRealNode() {
  step('starting the real node (kubelet, containerd, runc) and the control plane beside it');
  const node = await prepareNode();
  try {
    const cp = await startControlPlane({
      controllerManager: true,
      realNode: { hostAddress: node.network.hostAddress, schedulerPath: join(node.binDir, 'kube-scheduler') },
    });
    await node.start(cp);
    step(
      `node ${node.name} Ready; building the images from the Dockerfiles with BuildKit (cached when unchanged)`,
    );
    const images = await ensureProjectImages(node, baseImagesDir(node.binDir));
    step(`images ${images.built ? 'built' : 'taken from the cache'} and imported into containerd`);
    // kubelet's container log links, named <pod>_<namespace>_<container>-<id>.log.
    return { cp, podLogs: join(node.stateDir, 'var-log/containers'), stopNode: () => node.stop() };
  } catch (err) {
    await node.stop();
    throw err;
  }
}

/** The node agent: pods as local processes, for machines without root or namespaces. */
async function startNodeAgent(why: string | undefined) {
  step(`starting etcd, kube-apiserver and kube-controller-manager on loopback (node agent: ${why})`);
  const cp = await startControlPlane({ controllerManager: true });
  const podLogs = join(cp.logDir, 'pods');
  const node = (script: string) => ({
    command: process.execPath,
    args: ['--enable-source-maps', join(repoRoot, script)],
  });
  const agent = new NodeAgent({
    kubeconfig: cp.adminKubeconfig,
    nodeName: 'demo-node',
    images: {
      'samplesource-operator': node('dist/operator/main.js'),
      'samplesource-adapter': node('dist/adapter/main.js'),
      [EVENT_DISPLAY_IMAGE]: node('test/nodeagent/images/event-display.mjs'),
    },
    logDir: podLogs,
    workDir: join(cp.logDir, 'agent-work'),
  });
  await agent.start();
  step(
    `control plane ready in ${(cp.startupMs / 1000).toFixed(1)} s; node agent runs pods on 127.x addresses`,
  );
  return { cp, podLogs, stopNode: () => agent.stop() };
}

async function main(): Promise<void> {
  for (const entry of ['dist/operator/main.js', 'dist/adapter/main.js']) {
    if (!existsSync(join(repoRoot, entry)))
      throw new Error(`${entry} is missing: run \`make demo\` (it builds first)`);
  }
  const real =
    process.env.DEMO_NODE === 'agent' ? { ok: false, reason: 'DEMO_NODE=agent' } : realNodeSupported();
  const { cp, podLogs, stopNode } = real.ok ? await startRealNode() : await startNodeAgent(real.reason);
  let stopWatching = () => undefined as void;
  let stopLogs = () => undefined as void;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the demo…`);
    stopWatching();
    stopLogs();
    await stopNode();
    await cp.stop();
    console.log(`stopped; logs kept in ${cp.logDir}`);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  step('kubectl apply -f config/');
  console.log((await kubectl(cp, ['apply', '-f', join(repoRoot, 'config')])).trim());
  const readyPods = `jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}`;
  await waitUntil('the operator to be Ready', async () =>
    (await kubectl(cp, ['-n', 'samplesource-system', 'get', 'pods', '-o', readyPods])).includes('True'),
  );

  step('kubectl apply -f example.yaml');
  console.log((await kubectl(cp, ['apply', '-n', 'default', '-f', join(repoRoot, 'example.yaml')])).trim());
  stopWatching = watchConditions(cp);
  stopLogs = followLogs({
    dir: podLogs,
    kubelet: real.ok,
    // The operator logs every reconcile at info; show what a user follows: sessions, commands, warnings.
    filter: (prefix, line) =>
      !prefix.includes('operator') || /session|sent desired|WARN|ERROR|started|leader/i.test(line),
  });
  await waitUntil(
    'sample-source to be Ready',
    async () =>
      (await kubectl(cp, [
        'get',
        'samplesource',
        'sample-source',
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ])) === 'True',
  );

  const k = `KUBECONFIG=${cp.adminKubeconfig} ${cp.kubectlPath}`;
  console.log(`
\x1b[1mThe SampleSource is Ready and sends a heartbeat every 10 s to the event display.\x1b[0m
From a second terminal:
  export KUBECONFIG=${cp.adminKubeconfig}
  alias kubectl=${cp.kubectlPath}
  kubectl get samplesources
  kubectl patch samplesource sample-source --type=merge -p '{"spec":{"interval":"2s"}}'
  kubectl patch samplesource sample-source --type=merge -p '{"spec":{"paused":true}}'
  kubectl edit samplesource sample-source          # or change example.yaml and re-apply it
  kubectl describe samplesource sample-source
Pod logs (what stern would show): ${podLogs}
Ctrl-C stops everything.
(one line: ${k} get samplesources)
`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
