// The real node against its own control plane: Ready, pods with Secret volumes, probes, logs and
// exec, a Service reached by its DNS name from another pod; and, after stop, nothing left behind.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.js';
import { baseImagesDir, prepareNode, type RealNode } from './node.js';
import { hierarchies } from './cgroups.js';
import { claimDir, nodeProcesses } from './teardown.js';
import { namespaceInode } from './mountns.js';
import { isAlive, pollUntil } from '../controlplane/processes.js';
import { run } from './host.js';

const BASE = 'samplesource.local/node-base:test';

describe('the real node', () => {
  let node: RealNode;
  let cp: ControlPlane;
  const k = (args: string[], input?: string) => cp.kubectl(args, input);

  beforeAll(async () => {
    node = await prepareNode();
    cp = await startControlPlane({
      realNode: { hostAddress: node.network.hostAddress, schedulerPath: join(node.binDir, 'kube-scheduler') },
    });
    await node.start(cp);
    const [imported] = node.client.importImage(join(baseImagesDir(node.binDir), 'node-base.tar'));
    node.client.ctr(['images', 'tag', '--force', imported!, BASE]);
  }, 300_000);
  afterAll(async () => {
    await node?.stop();
    await cp?.stop();
  });

  it('becomes Ready with the InternalIP of its own namespace', () => {
    const addresses = JSON.parse(
      k(['get', 'node', node.name, '-o', 'jsonpath={.status.addresses}']),
    ) as Array<{
      type: string;
      address: string;
    }>;
    expect(addresses).toContainEqual({ type: 'InternalIP', address: node.network.nodeAddress });
    expect(
      k(['get', 'node', node.name, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']),
    ).toBe('True');
  });

  it('runs a pod with a Secret volume and a probe, serves it through a Service name, shows logs and exec', async () => {
    k(['create', 'namespace', 'smoke']);
    k(['-n', 'smoke', 'create', 'secret', 'generic', 'greeting', '--from-literal=text=hello from a secret']);
    const server = [
      "const fs = require('node:fs');",
      "require('node:http').createServer((q, s) => s.end(fs.readFileSync('/etc/greeting/text'))).listen(8080);",
      "console.log('serving');",
    ].join(' ');
    const manifest = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'web', namespace: 'smoke', labels: { app: 'web' } },
          spec: {
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 },
            containers: [
              {
                name: 'web',
                image: BASE,
                imagePullPolicy: 'Never',
                command: ['node', '-e', server],
                readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
                securityContext: {
                  readOnlyRootFilesystem: true,
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [{ name: 'greeting', mountPath: '/etc/greeting', readOnly: true }],
              },
            ],
            volumes: [{ name: 'greeting', secret: { secretName: 'greeting' } }],
          },
        },
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'web', namespace: 'smoke' },
          spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
        },
      ],
    };
    k(['apply', '-f', '-'], JSON.stringify(manifest));
    k(['-n', 'smoke', 'wait', '--for=condition=Ready', 'pod/web', '--timeout=90s']);
    expect(k(['-n', 'smoke', 'logs', 'web'])).toContain('serving');
    expect(k(['-n', 'smoke', 'exec', 'web', '--', 'id', '-u'])).toBe('65532\n');

    const client =
      "fetch('http://web.smoke.svc.cluster.local/').then(r => r.text()).then(t => console.log('got: ' + t))";
    k([
      '-n',
      'smoke',
      'run',
      'client',
      `--image=${BASE}`,
      '--image-pull-policy=Never',
      '--restart=Never',
      '--',
      'node',
      '-e',
      client,
    ]);
    const log = await pollUntil(
      'the client pod to print what the Service answered',
      async () => {
        const out = k(['-n', 'smoke', 'logs', 'client']);
        return out.includes('got: ') ? out : undefined;
      },
      90_000,
      500,
    );
    expect(log).toContain('got: hello from a secret');
  }, 180_000);

  it('leaves nothing behind when stopped', async () => {
    const { netns, hostInterface } = node.network;
    const stateDir = node.stateDir;
    const mountInode = namespaceInode(node.mountNamespace);
    const netInode = namespaceInode(node.network.netnsPath);
    const webPid = node.client.containerPid('smoke', 'web', 'web');
    expect(webPid).toBeGreaterThan(1);
    await node.stop();
    expect(run('ip', ['netns', 'list'])).not.toContain(netns);
    expect(run('ip', ['-o', 'link', 'show'])).not.toContain(`${hostInterface}@`);
    for (const h of hierarchies(true)) expect(existsSync(join(h, netns))).toBe(false);
    expect(existsSync(claimDir(node.network.slot))).toBe(false);
    expect(existsSync(stateDir)).toBe(false);
    // No process of this node still runs: no shim (they outlive containerd), no container.
    expect(nodeProcesses(mountInode, netInode, netns)).toEqual([]);
    expect(isAlive(webPid!)).toBe(false);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
    expect(mounts).not.toContain(claimDir(node.network.slot));
    // kubelet's fixed host paths stayed inside the node's mount namespace.
    for (const path of [
      '/var/log/containers',
      '/usr/libexec/kubernetes',
      '/var/lib/kubelet',
      '/var/lib/containerd',
    ])
      expect({ path, exists: existsSync(path) }).toEqual({ path, exists: false });
  }, 60_000);
});
