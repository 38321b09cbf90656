// End-to-end scenarios: kubectl, API server, operator, adapter pods, control streams, heartbeats
// at a sink, conditions flipping. Each asserts on what a user sees (conditions, events, sink traffic).
import * as k8s from '@kubernetes/client-node';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { waitForHeartbeats, type E2eSink } from './sinks.js';
import { repoRoot } from '../controlplane/controlplane.js';
import { adminKubeConfig, eventually, freshNamespace, kubectl } from '../support/cluster.js';
import { waitForOperators, SYSTEM_NAMESPACE, type Platform } from './system.js';
import { startWithSink, stopWithSink, type Namespace } from './system-with-sink.js';
import {
  adapterPods,
  condition,
  createSource,
  getSource,
  isTrue,
  kubectlApply,
  medianGap,
  patchSpec,
  recordConditions,
  sourceEvents,
  waitForSource,
} from './source-helpers.js';

/** A URL on loopback where nothing listens (bound, then closed), so connections are refused. */
async function closedLoopbackUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/`;
}

const heartbeatSource = (ns: string, name: string) => `/apis/v1/namespaces/${ns}/samplesources/${name}`;

describe('SampleSource end to end', () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  let platform: Platform;
  let sink: E2eSink;
  let ns: Namespace;

  beforeAll(async () => {
    ({ platform, ns, sink } = await startWithSink('e2e'));
  });
  afterAll(() => stopWithSink({ platform, sink }));

  it('1a. example.yaml as is: the source becomes Ready and the event display prints its heartbeats', async () => {
    const example = await freshNamespace('example');
    kubectl(['apply', '-n', example.name, '-f', join(repoRoot, 'example.yaml')]);
    const ready = await waitForSource(
      example.name,
      'sample-source',
      'Ready',
      (s) => isTrue(s, 'Ready'),
      90_000,
    );
    expect(ready.status?.sinkUri).toBe(`http://event-display.${example.name}.svc.cluster.local`);
    const [display] = (
      await core.listNamespacedPod({ namespace: example.name, labelSelector: 'app=event-display' })
    ).items;
    const printed = await eventually(
      'the event display to print a heartbeat',
      async () => {
        const log = platform.podLog(example.name, display!.metadata!.name!, 'event-display');
        return log.includes('type: dev.knative.sample') ? log : undefined;
      },
      60_000,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}\n${kubectl(['get', 'pods,deploy,svc', '-o', 'wide', '-n', example.name])}`,
      );
    });
    expect(printed).toContain(`source: ${heartbeatSource(example.name, 'sample-source')}`);
    kubectl(['delete', '-n', example.name, '-f', join(repoRoot, 'example.yaml'), '--wait=false']);
  });

  it('1. a source becomes Ready and its heartbeats reach the sink with the expected type, source and sequence', async () => {
    await createSource(ns.name, 'heart', { interval: '300ms', sink: { uri: sink.uri } });
    const ready = await waitForSource(ns.name, 'heart', 'Ready', (s) => isTrue(s, 'Ready'), 90_000);
    expect(ready.status?.sinkUri).toBe(sink.uri);
    for (const type of ['SinkProvided', 'Deployed', 'ConfigApplied'])
      expect(condition(ready, type)?.status).toBe('True');
    expect(condition(ready, 'Active')).toMatchObject({ status: 'True', severity: 'Info' });

    const source = heartbeatSource(ns.name, 'heart');
    const beats = await waitForHeartbeats(sink, source, '5 heartbeats', (b) => b.length >= 5);
    expect(beats.every((b) => b.type === 'dev.knative.sample')).toBe(true);
    expect(new Set(beats.map((b) => b.id)).size).toBe(beats.length);
    const sequences = beats.map((b) => b.sequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(new Set(sequences).size).toBe(sequences.length);
  });

  it('2. an interval edit goes Processing then applied for the new generation, changes the cadence, restarts nothing', async () => {
    const before = await getSource(ns.name, 'heart');
    const [pod] = await adapterPods(ns.name, before.metadata.uid);
    const pid = platform.containerPid(ns.name, pod!.metadata!.name!);
    const recorder = await recordConditions(ns.name, 'heart', 'ConfigApplied');
    try {
      kubectl([
        '-n',
        ns.name,
        'patch',
        'samplesource',
        'heart',
        '--type=merge',
        '-p',
        '{"spec":{"interval":"1200ms"}}',
      ]);
      const after = await waitForSource(ns.name, 'heart', 'ConfigApplied for the new generation', (s) =>
        isTrue(s, 'ConfigApplied'),
      );
      expect(after.metadata.generation).toBe(before.metadata.generation + 1);
      const forNew = recorder.seen.filter(
        (e) => e.generation === after.metadata.generation && e.observed === after.metadata.generation,
      );
      const firstUnknown = forNew.findIndex((e) => e.status === 'Unknown' && e.reason === 'Processing');
      const lastTrue = forNew.map((e) => e.status).lastIndexOf('True');
      expect(firstUnknown).toBeGreaterThanOrEqual(0);
      expect(lastTrue).toBeGreaterThan(firstUnknown);
    } finally {
      recorder.stop();
    }
    const source = heartbeatSource(ns.name, 'heart');
    const from = Date.now();
    const slow = await waitForHeartbeats(
      sink,
      source,
      '4 slow beats',
      (b) => b.filter((x) => x.at > from).length >= 4,
    );
    const gap = medianGap(slow.filter((b) => b.at > from).map((b) => b.at));
    expect(gap).toBeGreaterThan(1000);
    expect(gap).toBeLessThan(1500);

    const generation = before.metadata.generation + 1;
    await eventually('a ConfigApplied event for the new generation', async () =>
      (await sourceEvents(ns.name, 'heart')).some((e) =>
        e.startsWith(`Normal ConfigApplied: Generation ${generation} (every 1200ms)`),
      )
        ? true
        : undefined,
    );

    const [podAfter] = await adapterPods(ns.name, before.metadata.uid);
    expect(podAfter!.metadata!.uid).toBe(pod!.metadata!.uid);
    expect(podAfter!.status!.containerStatuses![0]!.restartCount).toBe(0);
    if (pid !== undefined) expect(platform.containerPid(ns.name, podAfter!.metadata!.name!)).toBe(pid);
  });

  it('3. pause stops heartbeats within one interval and marks Active False/Paused; resume starts them again', async () => {
    await patchSpec(ns.name, 'heart', { interval: '300ms' });
    await waitForSource(ns.name, 'heart', 'running at 300ms', (s) => isTrue(s, 'ConfigApplied'));
    await patchSpec(ns.name, 'heart', { paused: true });
    const paused = await waitForSource(ns.name, 'heart', 'paused and applied', (s) =>
      isTrue(s, 'ConfigApplied'),
    );
    expect(condition(paused, 'Active')).toMatchObject({ status: 'False', reason: 'Paused' });
    expect(isTrue(paused, 'Ready')).toBe(true); // paused is a state, not a failure
    const source = heartbeatSource(ns.name, 'heart');
    const quietFrom = Date.now() + 300; // one interval of grace for a tick already under way
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await sink.heartbeats()).filter((b) => b.source === source && b.at > quietFrom)).toEqual([]);

    await patchSpec(ns.name, 'heart', { paused: false });
    const resumed = await waitForSource(
      ns.name,
      'heart',
      'resumed',
      (s) => isTrue(s, 'ConfigApplied') && isTrue(s, 'Active'),
    );
    expect(isTrue(resumed, 'Ready')).toBe(true);
    const from = Date.now();
    await waitForHeartbeats(
      sink,
      source,
      'a heartbeat after resume',
      (b) => b.some((x) => x.at > from),
      10_000,
    );
    await eventually('Paused and Resumed events', async () => {
      const events = await sourceEvents(ns.name, 'heart');
      return events.includes('Normal Paused: Heartbeats paused') &&
        events.some((e) => e.startsWith('Normal Resumed:'))
        ? true
        : undefined;
    });
  });

  it('4. a killed adapter comes back, gets the full desired state again, and the source returns to Ready', async () => {
    await patchSpec(ns.name, 'heart', { interval: '400ms' });
    const applied = await waitForSource(ns.name, 'heart', 'at 400ms', (s) => isTrue(s, 'ConfigApplied'));
    const [pod] = await adapterPods(ns.name, applied.metadata.uid);
    await platform.killContainer(ns.name, pod!.metadata!.name!);
    await eventually('the adapter container to restart', async () => {
      const p = await core.readNamespacedPod({ namespace: ns.name, name: pod!.metadata!.name! });
      return (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 ? true : undefined;
    });
    await waitForSource(
      ns.name,
      'heart',
      'Ready again',
      (s) => isTrue(s, 'Ready') && isTrue(s, 'ConfigApplied'),
      60_000,
    );
    // The restarted process began with the Deployment's initial interval; the resent state is what it runs now.
    const source = heartbeatSource(ns.name, 'heart');
    const from = Date.now() + 500;
    const after = await waitForHeartbeats(
      sink,
      source,
      'beats after restart',
      (b) => b.filter((x) => x.at > from).length >= 5,
    );
    const gap = medianGap(after.filter((b) => b.at > from).map((b) => b.at));
    expect(gap).toBeGreaterThan(300);
    expect(gap).toBeLessThan(600);
  });

  it('5. an operator killed in the middle of an interval change converges after restart, applying it once per pod', async () => {
    const [operator] = await waitForOperators(1);
    const before = await getSource(ns.name, 'heart');
    await patchSpec(ns.name, 'heart', { interval: '700ms' });
    await platform.killContainer(SYSTEM_NAMESPACE, operator!.metadata!.name!);
    const after = await waitForSource(
      ns.name,
      'heart',
      'applied after operator restart',
      (s) => isTrue(s, 'ConfigApplied') && isTrue(s, 'Ready'),
      90_000,
    );
    expect(after.metadata.generation).toBe(before.metadata.generation + 1);
    const [pod] = await adapterPods(ns.name, after.metadata.uid);
    const log = platform.podLog(ns.name, pod!.metadata!.name!, 'adapter');
    const appliedLines = log
      .split('\n')
      .filter(
        (l) => l.includes(`applied (generation ${after.metadata.generation})`) && !l.includes('no change'),
      );
    expect(appliedLines).toHaveLength(1);
  });

  it('6. with two replicas both pods get every command, and scaling back to one closes the extra session', async () => {
    await patchSpec(ns.name, 'heart', { replicas: 2 });
    const two = await waitForSource(
      ns.name,
      'heart',
      'two pods applied',
      (s) => isTrue(s, 'ConfigApplied') && isTrue(s, 'Ready'),
      90_000,
    );
    await eventually('two ready adapter pods', async () =>
      (await adapterPods(ns.name, two.metadata.uid)).length === 2 ? true : undefined,
    );
    await patchSpec(ns.name, 'heart', { interval: '250ms' });
    const applied = await waitForSource(
      ns.name,
      'heart',
      'interval applied on both',
      (s) => isTrue(s, 'ConfigApplied'),
      60_000,
    );
    const pods = await adapterPods(ns.name, applied.metadata.uid);
    expect(pods).toHaveLength(2);
    for (const pod of pods) {
      const log = platform.podLog(ns.name, pod.metadata!.name!, 'adapter');
      expect(log).toContain(`applied (generation ${applied.metadata.generation})`);
    }
    await patchSpec(ns.name, 'heart', { replicas: 1 });
    await eventually(
      'one adapter pod left',
      async () => ((await adapterPods(ns.name, applied.metadata.uid)).length === 1 ? true : undefined),
      60_000,
    );
    const [operator] = await waitForOperators(1);
    await eventually(
      'the operator to close the extra session',
      async () =>
        platform
          .podLog(SYSTEM_NAMESPACE, operator!.metadata!.name!, 'operator')
          .includes('control session closed')
          ? true
          : undefined,
      30_000,
    );
    await waitForSource(
      ns.name,
      'heart',
      'Ready with one pod',
      (s) => isTrue(s, 'Ready') && isTrue(s, 'ConfigApplied'),
    );
  });

  it('7. with two operator replicas one leads; when it dies the other takes over and steers', async () => {
    await apps.patchNamespacedDeploymentScale(
      { name: 'samplesource-operator', namespace: SYSTEM_NAMESPACE, body: { spec: { replicas: 2 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const operators = await waitForOperators(2);
    const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
    const lease = await coordination.readNamespacedLease({
      name: 'samplesource-operator',
      namespace: SYSTEM_NAMESPACE,
    });
    const leader = lease.spec!.holderIdentity!;
    expect(operators.map((p) => p.metadata!.name)).toContain(leader);
    await core.deleteNamespacedPod({ name: leader, namespace: SYSTEM_NAMESPACE, gracePeriodSeconds: 0 });
    const successor = await eventually(
      'another replica to take the lease',
      async () => {
        const l = await coordination.readNamespacedLease({
          name: 'samplesource-operator',
          namespace: SYSTEM_NAMESPACE,
        });
        const holder = l.spec?.holderIdentity;
        return holder && holder !== leader ? holder : undefined;
      },
      30_000,
    );
    expect(successor).not.toBe(leader);
    await patchSpec(ns.name, 'heart', { interval: '350ms' });
    await waitForSource(
      ns.name,
      'heart',
      'steered by the new leader',
      (s) => isTrue(s, 'ConfigApplied'),
      60_000,
    );
    await apps.patchNamespacedDeploymentScale(
      { name: 'samplesource-operator', namespace: SYSTEM_NAMESPACE, body: { spec: { replicas: 1 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await waitForOperators(1);
  });

  it('8. with the sink down, heartbeats are retried and dropped, and the source stays steerable', async () => {
    // A sink that refuses connections: locally a loopback port nothing listens on; on a real node
    // (ours or kind's) a Service without endpoints.
    const deadUri =
      platform.name === 'local' ? await closedLoopbackUrl() : `http://nobody.${ns.name}.svc.cluster.local`;
    if (platform.name !== 'local')
      kubectl(['-n', ns.name, 'create', 'service', 'clusterip', 'nobody', '--tcp=80:8080']);
    await createSource(ns.name, 'nowhere', { interval: '200ms', sink: { uri: deadUri } });
    const ready = await waitForSource(
      ns.name,
      'nowhere',
      'Ready',
      (s) => isTrue(s, 'ConfigApplied') && isTrue(s, 'Deployed'),
      90_000,
    );
    const [pod] = await adapterPods(ns.name, ready.metadata.uid);
    await eventually(
      'dropped heartbeats to be counted',
      async () => {
        const log = platform.podLog(ns.name, pod!.metadata!.name!, 'adapter');
        return /dropped/i.test(log) ? true : undefined;
      },
      60_000,
    );
    await patchSpec(ns.name, 'nowhere', { interval: '900ms' });
    await waitForSource(
      ns.name,
      'nowhere',
      'steerable while the sink is down',
      (s) => isTrue(s, 'ConfigApplied'),
      60_000,
    );
    // Status shows the failing sink (3 failed deliveries in a row), not only the logs, and Ready is kept.
    const failing = await waitForSource(
      ns.name,
      'nowhere',
      'SinkReachable False',
      (s) => condition(s, 'SinkReachable')?.status === 'False',
      60_000,
    );
    expect(condition(failing, 'SinkReachable')).toMatchObject({
      reason: 'DeliveryFailing',
      message: expect.stringMatching(
        /consecutive failed deliveries \((ECONNREFUSED|ECONN\w+|timed out|HTTP 5\d\d)\)/,
      ) as unknown,
    });
    expect(isTrue(failing, 'Ready')).toBe(true);
    // A sink that answers: True again after 2 deliveries in a row.
    await patchSpec(ns.name, 'nowhere', { sink: { uri: sink.uri } });
    await waitForSource(
      ns.name,
      'nowhere',
      'SinkReachable True again',
      (s) => isTrue(s, 'SinkReachable'),
      90_000,
    );
  });

  it('9. invalid specs are refused with readable messages; deleting a source removes its children and sessions', async () => {
    const bad = (spec: string) =>
      `apiVersion: samples.knative.dev/v1alpha1\nkind: SampleSource\nmetadata:\n  name: bad\nspec:\n${spec}\n`;
    expect(() =>
      kubectlApply(bad(`  interval: "soon"\n  sink:\n    uri: http://127.0.0.1:1/`), ns.name),
    ).toThrow(/interval/);
    expect(() => kubectlApply(bad(`  interval: "1s"`), ns.name)).toThrow(/sink/);
    expect(() => kubectlApply(bad(`  sink:\n    uri: relative/path`), ns.name)).toThrow(/uri|absolute/i);

    const source = await getSource(ns.name, 'nowhere');
    await kc.makeApiClient(k8s.CustomObjectsApi).deleteNamespacedCustomObject({
      group: 'samples.knative.dev',
      version: 'v1alpha1',
      namespace: ns.name,
      plural: 'samplesources',
      name: 'nowhere',
    });
    await eventually(
      'the Deployment and Secret of the deleted source to be garbage-collected',
      async () => {
        const deps = await apps.listNamespacedDeployment({
          namespace: ns.name,
          labelSelector: `samples.knative.dev/source-uid=${source.metadata.uid}`,
        });
        const secrets = await core.listNamespacedSecret({
          namespace: ns.name,
          labelSelector: `samples.knative.dev/source-uid=${source.metadata.uid}`,
        });
        return deps.items.length === 0 && secrets.items.length === 0 ? true : undefined;
      },
      60_000,
    );
    const [operator] = await waitForOperators(1);
    await eventually(
      'the operator to close the deleted source’s session',
      async () => {
        const log = platform.podLog(SYSTEM_NAMESPACE, operator!.metadata!.name!, 'operator');
        return log
          .split('\n')
          .some((l) => l.includes('control session closed') && l.includes(`${ns.name}/nowhere`))
          ? true
          : undefined;
      },
      30_000,
    );
  });
});
