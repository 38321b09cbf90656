// The node agent runs a Deployment's Pods as real processes on loopback pod IPs.
import * as k8s from '@kubernetes/client-node';
import { join } from 'node:path';
import { request } from 'node:http';
import { NodeAgent } from './agent.js';
import { isLoopback } from './ip-pool.js';
import { isAlive } from '../controlplane/processes.js';
import { repoRoot } from '../controlplane/controlplane.js';
import {
  adminKubeConfig,
  adminKubeconfigPath,
  controlPlaneLogs,
  eventually,
  freshNamespace,
} from '../support/cluster.js';

function getJson(ip: string, port: number, path: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request({ host: ip, port, path, timeout: 2_000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('node agent', () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  let agent: NodeAgent;

  beforeAll(async () => {
    ns = await freshNamespace('agent');
    agent = new NodeAgent({
      kubeconfig: adminKubeconfigPath(),
      nodeName: `agent-test-${ns.name}`,
      images: {
        'example.test/echo': {
          command: process.execPath,
          args: [join(repoRoot, 'test/nodeagent/testdata/echo-server.mjs')],
        },
      },
      logDir: join(controlPlaneLogs(), 'pods'),
      workDir: join(controlPlaneLogs(), 'agent-work', ns.name),
      ipRangeOctet: 43,
    });
    await agent.start();
  });
  afterAll(async () => {
    await agent.stop();
    await ns.cleanup();
  });

  it('binds, runs, probes and stops the Pods of a Deployment, with env, downward API and Secret volumes', async () => {
    await core.createNamespacedSecret({
      namespace: ns.name,
      body: { metadata: { name: 'creds' }, stringData: { token: 's3cret' } },
    });
    const labels = { app: 'echo' };
    await apps.createNamespacedDeployment({
      namespace: ns.name,
      body: {
        metadata: { name: 'echo' },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              automountServiceAccountToken: false,
              containers: [
                {
                  name: 'echo',
                  image: 'example.test/echo:1.0',
                  ports: [{ name: 'http', containerPort: 8080 }],
                  env: [
                    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                    { name: 'GREETING', value: 'hello from $(POD_NAME)' },
                    { name: 'SECRET_FILE', value: '/etc/creds/token' },
                  ],
                  volumeMounts: [{ name: 'creds', mountPath: '/etc/creds', readOnly: true }],
                  readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
                },
              ],
              volumes: [{ name: 'creds', secret: { secretName: 'creds' } }],
            },
          },
        },
      },
    });

    const readyPods = await eventually(
      'two Ready pods of the echo Deployment',
      async () => {
        const pods = (await core.listNamespacedPod({ namespace: ns.name, labelSelector: 'app=echo' })).items;
        const ready = pods.filter((p) =>
          p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        return ready.length === 2 ? ready : undefined;
      },
      60_000,
    );

    const ips = readyPods.map((p) => p.status!.podIP!);
    expect(ips.every(isLoopback)).toBe(true);
    expect(new Set(ips).size).toBe(2);
    for (const pod of readyPods) {
      const body = await getJson(pod.status!.podIP!, 8080, '/');
      expect(body.env).toEqual({
        POD_IP: pod.status!.podIP,
        POD_NAME: pod.metadata!.name,
        GREETING: `hello from ${pod.metadata!.name}`,
      });
      expect(body.secret).toBe('s3cret');
      expect(pod.spec!.nodeName).toBe(agent.nodeName);
    }

    // Scale to zero: both processes stop and the Pods disappear.
    const pids = readyPods.map((p) => agent.podProcess(ns.name, p.metadata!.name!)!.pid!);
    expect(pids.every(isAlive)).toBe(true);
    await apps.patchNamespacedDeploymentScale(
      { name: 'echo', namespace: ns.name, body: { spec: { replicas: 0 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await eventually(
      'the echo pods to be gone',
      async () =>
        (await core.listNamespacedPod({ namespace: ns.name })).items.length === 0 ? true : undefined,
      60_000,
    );
    await eventually(
      'the echo processes to exit',
      async () => (pids.some(isAlive) ? undefined : true),
      15_000,
    );
  });

  it('restarts a container whose process dies, keeping the pod IP', async () => {
    await apps.patchNamespacedDeploymentScale(
      { name: 'echo', namespace: ns.name, body: { spec: { replicas: 1 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const pod = await eventually(
      'one Ready echo pod',
      async () => {
        const pods = (await core.listNamespacedPod({ namespace: ns.name })).items;
        return pods.find((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      },
      60_000,
    );
    const before = agent.podProcess(ns.name, pod.metadata!.name!)!;
    process.kill(before.pid!, 'SIGKILL');
    const after = await eventually(
      'the container to be restarted and Ready again',
      async () => {
        const p = await core.readNamespacedPod({ name: pod.metadata!.name!, namespace: ns.name });
        const status = p.status?.containerStatuses?.[0];
        const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        return status?.restartCount === 1 && ready ? p : undefined;
      },
      30_000,
    );
    expect(after.status!.podIP).toBe(before.ip);
    const now = agent.podProcess(ns.name, pod.metadata!.name!)!;
    expect(now.pid).not.toBe(before.pid);
    expect((await getJson(before.ip, 8080, '/')).pid).toBe(now.pid);
  });
});
