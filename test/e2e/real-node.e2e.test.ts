// Scenarios only a real node can check: what kubelet, containerd and runc do to our images and pods
// (the Secret volume's atomic update, the image's user and group, a read-only root filesystem, the
// runtime's SIGTERM). Runs on the real node only (E2E_PLATFORM=node, the default; see jest.e2e.config.js).
import * as k8s from '@kubernetes/client-node';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../controlplane/controlplane.js';
import { clusterSink, waitForHeartbeats, type E2eSink } from './sinks.js';
import { adminKubeConfig, eventually, freshNamespace, kubectl } from '../support/cluster.js';
import { startSystem, waitForOperators, SYSTEM_NAMESPACE, type Platform } from './system.js';
import {
  adapterPods,
  createSource,
  getSource,
  isTrue,
  medianGap,
  patchSpec,
  waitForSource,
} from './source-helpers.js';
import { nodeClient, nodeHandleFromEnv, type NodeClient } from '../node/client.js';

const NONROOT = 65532;
const heartbeatSource = (ns: string, name: string) => `/apis/v1/namespaces/${ns}/samplesources/${name}`;

/** Uid, Gid and Groups lines of /proc/<pid>/status, as numbers. */
function credentials(pid: number): { uid: number[]; gid: number[]; groups: number[] } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    (new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '').split(/\s+/).filter(Boolean).map(Number);
  return { uid: field('Uid'), gid: field('Gid'), groups: field('Groups') };
}

/** The mount options of the process's root filesystem (/proc/<pid>/mountinfo, mount point "/"). */
function rootMountOptions(pid: number): string[] {
  const line = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[4] === '/');
  return (line?.split(' ')[5] ?? '').split(',');
}

/** SHA-256 fingerprint of the certificate a TLS server presents, fetched from inside the node's netns. */
function servedFingerprint(client: NodeClient, host: string, port: number): string {
  const script = [
    "const tls = require('node:tls');",
    `const s = tls.connect({ host: '${host}', port: ${port}, rejectUnauthorized: false, servername: 'probe', ALPNProtocols: ['h2'] }, () => {`,
    '  console.log(s.getPeerCertificate().fingerprint256); s.destroy(); });',
    "s.on('error', (e) => { if (!s.getPeerCertificate) console.error(e.message); });",
  ].join('\n');
  return client.exec(process.execPath, ['-e', script]).trim();
}

describe('SampleSource on a real node', () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let platform: Platform;
  let client: NodeClient;
  let sink: E2eSink;
  let ns: Awaited<ReturnType<typeof freshNamespace>>;

  beforeAll(async () => {
    const handle = nodeHandleFromEnv();
    if (!handle) throw new Error('these scenarios need the real node (E2E_PLATFORM=node)');
    client = nodeClient(handle);
    platform = await startSystem();
    ns = await freshNamespace('node');
    sink = await clusterSink(platform, ns.name);
  });
  afterAll(async () => {
    await sink?.close();
    await ns?.cleanup();
  });

  it('10. operator, adapter and event display run as their numeric non-root user and group, on a read-only root filesystem', async () => {
    await createSource(ns.name, 'who', { interval: '500ms', sink: { uri: sink.uri } });
    const ready = await waitForSource(ns.name, 'who', 'Ready', (s) => isTrue(s, 'Ready'), 90_000);
    const [adapter] = await adapterPods(ns.name, ready.metadata.uid);
    const [operator] = await waitForOperators(1);
    const [display] = (await core.listNamespacedPod({ namespace: ns.name, labelSelector: 'app=e2e-sink' }))
      .items;
    // example.yaml's event display, as a user deploys it.
    const example = await freshNamespace('example');
    kubectl(['apply', '-n', example.name, '-f', join(repoRoot, 'example.yaml')]);
    kubectl([
      '-n',
      example.name,
      'wait',
      '--for=condition=Available',
      'deployment/event-display',
      '--timeout=90s',
    ]);
    const [exampleDisplay] = (
      await core.listNamespacedPod({ namespace: example.name, labelSelector: 'app=event-display' })
    ).items;
    const containers: Array<[string, string, string]> = [
      [SYSTEM_NAMESPACE, operator!.metadata!.name!, 'operator'],
      [ns.name, adapter!.metadata!.name!, 'adapter'],
      [ns.name, display!.metadata!.name!, 'event-display'],
      [example.name, exampleDisplay!.metadata!.name!, 'event-display'],
    ];
    for (const [namespace, pod, container] of containers) {
      const pid = client.containerPid(namespace, pod, container);
      expect(pid).toBeGreaterThan(1);
      const who = credentials(pid!);
      expect({ container, ...who }).toEqual({
        container,
        uid: [NONROOT, NONROOT, NONROOT, NONROOT],
        gid: [NONROOT, NONROOT, NONROOT, NONROOT],
        groups: [NONROOT],
      });
      expect(rootMountOptions(pid!)).toContain('ro');
      // And the process itself is refused a write to its root filesystem.
      const write = () =>
        kubectl([
          '-n',
          namespace,
          'exec',
          pod,
          '-c',
          container,
          '--',
          'node',
          '-e',
          "require('fs').writeFileSync('/probe', 'x')",
        ]);
      expect(write).toThrow(/EROFS|read-only file system/);
    }
    await example.cleanup();
    // config/ applies without kubectl's warnings (it once defined POD_IP twice).
    const apply = spawnSync(
      process.env.SAMPLESOURCE_KUBECTL!,
      [
        `--kubeconfig=${process.env.SAMPLESOURCE_KUBECONFIG}`,
        'apply',
        '--dry-run=server',
        '-f',
        join(repoRoot, 'config'),
      ],
      { encoding: 'utf8' },
    );
    expect(apply.status).toBe(0);
    expect(apply.stderr).not.toMatch(/warning/i);
  }, 180_000);

  it('11. a certificate rotated through the Secret volume is picked up without a restart, losing no command', async () => {
    await createSource(ns.name, 'rotate', { interval: '400ms', sink: { uri: sink.uri } });
    const ready = await waitForSource(ns.name, 'rotate', 'Ready', (s) => isTrue(s, 'Ready'), 90_000);
    const [pod] = await adapterPods(ns.name, ready.metadata.uid);
    const podName = pod!.metadata!.name!;
    const pid = client.containerPid(ns.name, podName, 'adapter');
    const podIp = pod!.status!.podIP!;
    const secretOf = async () =>
      (
        await core.listNamespacedSecret({
          namespace: ns.name,
          labelSelector: `samples.knative.dev/source-uid=${ready.metadata.uid}`,
        })
      ).items[0];
    const fingerprintOf = (secret: k8s.V1Secret | undefined) =>
      secret?.data?.['tls.crt']
        ? new X509Certificate(Buffer.from(secret.data['tls.crt'], 'base64')).fingerprint256
        : undefined;
    const before = await secretOf();
    const oldFingerprint = fingerprintOf(before);
    expect(servedFingerprint(client, podIp, 9443)).toBe(oldFingerprint);

    // The operator reissues a missing certificate at once; kubelet swaps the volume's files atomically.
    await core.deleteNamespacedSecret({ namespace: ns.name, name: before!.metadata!.name! });
    const newFingerprint = await eventually('a new certificate in the Secret', async () => {
      const f = fingerprintOf(await secretOf());
      return f && f !== oldFingerprint ? f : undefined;
    });
    // A command while the new certificate travels to the pod.
    await patchSpec(ns.name, 'rotate', { interval: '900ms' });
    await waitForSource(
      ns.name,
      'rotate',
      'the interval applied during rotation',
      (s) => isTrue(s, 'ConfigApplied'),
      60_000,
    );
    await eventually(
      'the adapter to serve the rotated certificate',
      async () => (servedFingerprint(client, podIp, 9443) === newFingerprint ? true : undefined),
      120_000,
    );
    // A command after the rotation: the operator reaches the adapter over mTLS with the new certificate.
    await patchSpec(ns.name, 'rotate', { interval: '300ms' });
    const after = await waitForSource(
      ns.name,
      'rotate',
      'the interval applied after rotation',
      (s) => isTrue(s, 'ConfigApplied'),
      60_000,
    );
    const from = Date.now() + 500;
    const beats = await waitForHeartbeats(
      sink,
      heartbeatSource(ns.name, 'rotate'),
      'beats at 300ms',
      (b) => b.filter((x) => x.at > from).length >= 6,
    );
    const gap = medianGap(beats.filter((b) => b.at > from).map((b) => b.at));
    expect(gap).toBeGreaterThan(200);
    expect(gap).toBeLessThan(450);

    const log = platform.podLog(ns.name, podName, 'adapter');
    for (const generation of [after.metadata.generation - 1, after.metadata.generation])
      expect(log).toContain(`applied (generation ${generation})`);
    const [still] = await adapterPods(ns.name, ready.metadata.uid);
    expect(still!.metadata!.uid).toBe(pod!.metadata!.uid);
    expect(still!.status!.containerStatuses![0]!.restartCount).toBe(0);
    expect(client.containerPid(ns.name, podName, 'adapter')).toBe(pid);
  }, 300_000);

  it('12. the operator stopped by the runtime (SIGTERM) exits cleanly, is restarted by kubelet and steers again', async () => {
    const [operator] = await waitForOperators(1);
    const name = operator!.metadata!.name!;
    const id = client.containerId(SYSTEM_NAMESPACE, name, 'operator');
    expect(id).toBeDefined();
    // What kubelet does on a pod's deletion or a liveness failure: SIGTERM through containerd, then a grace period.
    client.crictl(['stop', '--timeout=30', id!]);
    const terminated = await eventually(
      'the operator container to be restarted',
      async () => {
        const p = await core.readNamespacedPod({ namespace: SYSTEM_NAMESPACE, name });
        const status = p.status?.containerStatuses?.[0];
        return (status?.restartCount ?? 0) >= 1 && status?.lastState?.terminated
          ? status.lastState.terminated
          : undefined;
      },
      90_000,
    );
    expect({ exitCode: terminated.exitCode, reason: terminated.reason }).toEqual({
      exitCode: 0,
      reason: 'Completed',
    });
    await waitForOperators(1);
    const source = await getSource(ns.name, 'who');
    await patchSpec(ns.name, 'who', { interval: '700ms' });
    const steered = await waitForSource(
      ns.name,
      'who',
      'steered after the restart',
      (s) => isTrue(s, 'ConfigApplied'),
      90_000,
    );
    expect(steered.metadata.generation).toBe(source.metadata.generation + 1);
  }, 240_000);
});
