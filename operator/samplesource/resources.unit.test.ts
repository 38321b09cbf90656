import type { V1Deployment } from '@kubernetes/client-node';
import type { SampleSource, SampleSourceSpec } from '../../contract/samplesource.js';
import { certSecretName } from './names.js';
import {
  adapterSelector,
  buildAdapterDeployment,
  initialSinkOf,
  initialStateOf,
  isDerivative,
  planDeployment,
  type AdapterOptions,
} from './resources.js';

const UID = '0b6c1f7e-1111-4222-8333-444455556666';
const SINK = 'http://display.demo.svc.cluster.local';
const options: AdapterOptions = { image: 'samplesource-adapter:0.1.0' };

function source(spec: Partial<SampleSourceSpec> = {}, generation = 1): SampleSource {
  return {
    apiVersion: 'samples.knative.dev/v1alpha1',
    kind: 'SampleSource',
    metadata: { name: 'sample-source', namespace: 'demo', uid: UID, generation },
    spec: { interval: '10s', paused: false, replicas: 1, sink: { uri: SINK }, ...spec },
  };
}

function envOf(d: V1Deployment): Record<string, string | undefined> {
  const env = d.spec!.template.spec!.containers[0]!.env!;
  return Object.fromEntries(
    env.map((e) => [e.name, e.value ?? `<from ${e.valueFrom?.fieldRef?.fieldPath}>`]),
  );
}

// What the API server adds to a stored Deployment: defaults, status, bookkeeping.
function asStored(d: V1Deployment): V1Deployment {
  const copy = structuredClone(d);
  copy.metadata!.resourceVersion = '42';
  copy.metadata!.generation = 1;
  copy.spec!.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } };
  copy.spec!.revisionHistoryLimit = 10;
  const pod = copy.spec!.template.spec!;
  pod.restartPolicy = 'Always';
  pod.dnsPolicy = 'ClusterFirst';
  pod.schedulerName = 'default-scheduler';
  pod.terminationGracePeriodSeconds = 30;
  const c = pod.containers[0]!;
  c.terminationMessagePath = '/dev/termination-log';
  c.readinessProbe!.timeoutSeconds = 1;
  c.readinessProbe!.httpGet!.scheme = 'HTTP';
  copy.status = { observedGeneration: 1, replicas: 1 };
  return copy;
}

describe('buildAdapterDeployment', () => {
  const d = buildAdapterDeployment(source(), SINK, options);
  const pod = d.spec!.template.spec!;
  const container = pod.containers[0]!;

  it('names, labels and owns the Deployment deterministically', () => {
    expect(d.metadata).toEqual({
      name: `samplesource-sample-source-${UID}`,
      namespace: 'demo',
      labels: {
        'app.kubernetes.io/name': 'samplesource-adapter',
        'app.kubernetes.io/component': 'adapter',
        'app.kubernetes.io/managed-by': 'samplesource-operator',
        'samples.knative.dev/source': 'sample-source',
        'samples.knative.dev/source-uid': UID,
      },
      ownerReferences: [
        {
          apiVersion: 'samples.knative.dev/v1alpha1',
          kind: 'SampleSource',
          name: 'sample-source',
          uid: UID,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    });
    expect(d.spec!.selector).toEqual({ matchLabels: adapterSelector(source()) });
    expect(d.spec!.template.metadata!.labels).toEqual(d.metadata!.labels);
    expect(buildAdapterDeployment(source(), SINK, options)).toEqual(d);
  });

  it('passes the adapter its environment, POD_IP first so $(POD_IP) expands', () => {
    expect(container.env![0]!.name).toBe('POD_IP');
    expect(envOf(d)).toEqual({
      POD_IP: '<from status.podIP>',
      POD_NAME: '<from metadata.name>',
      K_SINK: SINK,
      SAMPLESOURCE_NAME: 'sample-source',
      SAMPLESOURCE_NAMESPACE: 'demo',
      SAMPLESOURCE_INTERVAL: '10s',
      SAMPLESOURCE_PAUSED: 'false',
      CONTROL_ADDRESS: '$(POD_IP)',
      CONTROL_PORT: '9443',
      HEALTH_ADDRESS: '$(POD_IP)',
      HEALTH_PORT: '8080',
      CONTROL_TLS_DIR: '/etc/samplesource/tls',
      OPERATOR_IDENTITY: 'spiffe://samplesource.knative.dev/operator',
      LOG_LEVEL: 'info',
    });
  });

  it('mounts the certificate Secret read-only and probes the health port', () => {
    expect(pod.volumes).toEqual([
      { name: 'control-tls', secret: { secretName: certSecretName(source()), defaultMode: 0o440 } },
    ]);
    expect(container.volumeMounts).toEqual([
      { name: 'control-tls', mountPath: '/etc/samplesource/tls', readOnly: true },
    ]);
    expect(container.readinessProbe!.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(container.livenessProbe!.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(container.ports).toEqual([
      { name: 'control', containerPort: 9443, protocol: 'TCP' },
      { name: 'health', containerPort: 8080, protocol: 'TCP' },
    ]);
  });

  it('runs non-root, read-only, without privileges, API token or resources left open', () => {
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(container.resources!.requests).toBeDefined();
    expect(container.resources!.limits).toBeDefined();
    expect(pod.serviceAccountName).toBeUndefined();
  });

  it.each([
    { name: 'replicas', spec: { replicas: 3 }, check: (x: V1Deployment) => expect(x.spec!.replicas).toBe(3) },
    {
      name: 'serviceAccountName',
      spec: { serviceAccountName: 'beats' },
      check: (x: V1Deployment) => expect(x.spec!.template.spec!.serviceAccountName).toBe('beats'),
    },
    {
      name: 'ceOverrides as K_CE_OVERRIDES JSON',
      spec: { ceOverrides: { extensions: { team: 'blue' } } },
      check: (x: V1Deployment) => expect(envOf(x).K_CE_OVERRIDES).toBe('{"extensions":{"team":"blue"}}'),
    },
    {
      name: 'paused initial state',
      spec: { paused: true, interval: '2s' },
      check: (x: V1Deployment) => expect(initialStateOf(x)).toEqual({ interval: '2s', paused: true }),
    },
  ])('carries $name', ({ spec, check }) => {
    check(buildAdapterDeployment(source(spec), SINK, options));
  });

  it('passes the sink CA bundle as K_CA_CERTS, and nothing when there is none', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    expect(envOf(buildAdapterDeployment(source(), SINK, options, undefined, pem)).K_CA_CERTS).toBe(pem);
    expect(envOf(buildAdapterDeployment(source(), SINK, options)).K_CA_CERTS).toBeUndefined();
  });

  it('binds to 0.0.0.0 and uses the configured ports, image and log level when told to', () => {
    const x = buildAdapterDeployment(source(), SINK, {
      image: 'img:2',
      bindToPodIp: false,
      controlPort: 7443,
      healthPort: 7080,
      logLevel: 'debug',
      imagePullPolicy: 'Always',
    });
    expect(envOf(x)).toMatchObject({
      CONTROL_ADDRESS: '0.0.0.0',
      HEALTH_ADDRESS: '0.0.0.0',
      CONTROL_PORT: '7443',
      HEALTH_PORT: '7080',
      LOG_LEVEL: 'debug',
    });
    expect(x.spec!.template.spec!.containers[0]).toMatchObject({ image: 'img:2', imagePullPolicy: 'Always' });
  });
});

describe('pod template stability (interval, paused and the sink travel over the control stream)', () => {
  const existing = asStored(buildAdapterDeployment(source(), SINK, options));
  const cases: Array<{
    name: string;
    spec: Partial<SampleSourceSpec>;
    sink?: string;
    caCerts?: string;
    audience?: string;
    action: 'none' | 'update';
    templateKept: boolean;
    initial: { interval: string; paused: boolean };
    /** The sink env of a template that rolled; default the one given. */
    templateSink?: { uri: string };
  }> = [
    {
      name: 'nothing changed',
      spec: {},
      action: 'none',
      templateKept: true,
      initial: { interval: '10s', paused: false },
    },
    {
      name: 'only interval changed',
      spec: { interval: '2s' },
      action: 'none',
      templateKept: true,
      initial: { interval: '10s', paused: false },
    },
    {
      name: 'only paused changed',
      spec: { paused: true },
      action: 'none',
      templateKept: true,
      initial: { interval: '10s', paused: false },
    },
    {
      name: 'interval and paused changed',
      spec: { interval: '1m', paused: true },
      action: 'none',
      templateKept: true,
      initial: { interval: '10s', paused: false },
    },
    {
      name: 'replicas changed (no template change)',
      spec: { replicas: 2, interval: '5s' },
      action: 'update',
      templateKept: true,
      initial: { interval: '10s', paused: false },
    },
    {
      // The sink travels live too (ApplyState.sink): the template keeps the sink it started with.
      name: 'sink changed (and interval): no rollout, the template keeps its initial sink',
      spec: { interval: '2s' },
      sink: 'http://other.demo.svc.cluster.local',
      action: 'none',
      templateKept: true,
      initial: { interval: '10s', paused: false },
    },
    {
      name: 'sink CA certificates and audience given: no rollout either',
      spec: {},
      sink: 'https://other.demo.svc.cluster.local',
      caCerts: 'PEM',
      audience: 'aud',
      action: 'none',
      templateKept: true,
      initial: { interval: '10s', paused: false },
    },
    {
      name: 'sink changed together with ceOverrides: rollout, so the current sink',
      spec: { ceOverrides: { extensions: { a: 'b' } } },
      sink: 'http://other.demo.svc.cluster.local',
      action: 'update',
      templateKept: false,
      initial: { interval: '10s', paused: false },
      templateSink: { uri: 'http://other.demo.svc.cluster.local' },
    },
    {
      name: 'ceOverrides changed: rollout anyway, so current values',
      spec: { paused: true, ceOverrides: { extensions: { a: 'b' } } },
      action: 'update',
      templateKept: false,
      initial: { interval: '10s', paused: true },
    },
    {
      name: 'serviceAccountName changed',
      spec: { serviceAccountName: 'x' },
      action: 'update',
      templateKept: false,
      initial: { interval: '10s', paused: false },
    },
  ];
  it.each(cases)(
    '$name',
    ({ spec, sink, caCerts, audience, action, templateKept, initial, templateSink }) => {
      const desired = buildAdapterDeployment(
        source(spec, 2),
        sink ?? SINK,
        options,
        existing,
        caCerts,
        audience,
      );
      const plan = planDeployment(desired, existing);
      expect(plan.action).toBe(action);
      expect(initialStateOf(desired)).toEqual(initial);
      expect(initialSinkOf(desired)).toEqual(
        templateKept ? initialSinkOf(existing) : (templateSink ?? { uri: SINK }),
      );
      expect(isDerivative(desired.spec!.template, existing.spec!.template)).toBe(templateKept);
      if (plan.action === 'update') {
        // Updates start from the stored object: resourceVersion and server defaults stay.
        expect(plan.deployment.metadata!.resourceVersion).toBe('42');
        expect(plan.deployment.spec!.strategy).toEqual(existing.spec!.strategy);
        expect(plan.deployment.spec!.replicas).toBe(desired.spec!.replicas);
        expect(plan.deployment.spec!.template).toEqual(desired.spec!.template);
      }
    },
  );

  it('uses the current values when the existing template has no initial state', () => {
    const bare = structuredClone(existing);
    bare.spec!.template.spec!.containers[0]!.env = [];
    const desired = buildAdapterDeployment(source({ interval: '3s' }), SINK, options, bare);
    expect(initialStateOf(desired)).toEqual({ interval: '3s', paused: false });
    expect(planDeployment(desired, bare).action).toBe('update');
  });
});

describe('planDeployment', () => {
  const desired = buildAdapterDeployment(source(), SINK, options);
  it('creates a missing Deployment', () => {
    expect(planDeployment(desired, undefined)).toEqual({ action: 'create', deployment: desired });
  });
  it('leaves a Deployment another object controls alone', () => {
    const foreign = asStored(desired);
    foreign.metadata!.ownerReferences = [
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'x', uid: 'other', controller: true },
    ];
    expect(planDeployment(desired, foreign)).toEqual({
      action: 'conflict',
      deployment: foreign,
      message: `Deployment samplesource-sample-source-${UID} exists and is not controlled by this SampleSource`,
    });
    const orphan = asStored(desired);
    delete orphan.metadata!.ownerReferences;
    expect(planDeployment(desired, orphan).action).toBe('conflict');
  });
  it('restores labels someone removed', () => {
    const stored = asStored(desired);
    delete stored.metadata!.labels!['samples.knative.dev/source'];
    const plan = planDeployment(desired, stored);
    expect(plan.action).toBe('update');
    expect(plan.deployment.metadata!.labels).toEqual(desired.metadata!.labels);
  });
  it('survives a stored Deployment without spec (never from the API server, but no crash)', () => {
    const plan = planDeployment(desired, { metadata: asStored(desired).metadata });
    expect(plan.action).toBe('update');
    expect(plan.deployment.spec).toEqual(desired.spec);
  });
  it('repairs a template edited by hand', () => {
    const stored = asStored(desired);
    stored.spec!.template.spec!.containers[0]!.image = 'evil:latest';
    expect(planDeployment(desired, stored).action).toBe('update');
  });
});

describe('isDerivative (Semantic.DeepDerivative)', () => {
  it.each([
    { name: 'unset desired fields are ignored', desired: { a: 1 }, actual: { a: 1, b: 2 }, want: true },
    { name: 'undefined desired value', desired: { a: undefined }, actual: { a: 5 }, want: true },
    { name: 'different scalar', desired: { a: 1 }, actual: { a: 2 }, want: false },
    { name: 'missing actual field', desired: { a: { b: 1 } }, actual: {}, want: false },
    { name: 'arrays must have the same length', desired: [1], actual: [1, 2], want: false },
    { name: 'arrays compare elementwise', desired: [{ a: 1 }], actual: [{ a: 1, z: 0 }], want: true },
    { name: 'object against array', desired: { a: 1 }, actual: [1], want: false },
    { name: 'empty desired array needs empty actual', desired: [], actual: [], want: true },
  ])('$name', ({ desired, actual, want }) => {
    expect(isDerivative(desired, actual)).toBe(want);
  });
});
