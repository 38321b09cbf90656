// config/ and example.yaml against a real kube-apiserver, through the real kubectl of the same
// Kubernetes version: install, schema, defaults, printer columns, explain and RBAC.
//
// These tests start their own control planes instead of using the shared one: they must see an
// empty cluster, and re-applying config/ on the shared cluster would undo what end-to-end tests
// changed on the operator Deployment (kubectl set env).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, startControlPlane, type ControlPlane } from './controlplane/controlplane.js';
import { eventually, kubectl as runKubectl } from './support/cluster.js';
import { parseSampleSource } from '../contract/samplesource.js';
import { planReconcile } from '../operator/samplesource/desired-state.js';
import { sinkKey } from '../operator/samplesource/adapter-sink.js';
import { buildAdapterDeployment } from '../operator/samplesource/resources.js';

const CONFIG = join(repoRoot, 'config');
const EXAMPLE = join(repoRoot, 'example.yaml');
const EXAMPLE_SHARED = join(repoRoot, 'example-shared.yaml');
const OPERATOR_SA = 'system:serviceaccount:samplesource-system:samplesource-operator';
const manifests = readdirSync(CONFIG)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

let cp: ControlPlane;

function kubectl(args: string[], input?: string): string {
  return runKubectl(args, { kubeconfig: cp.adminKubeconfig, ...(input !== undefined ? { input } : {}) });
}

/**
 * Applies an example file to namespace example as a user would: a server-side dry run first (it
 * must report the source `name` created), then for real. Returns the stored spec.
 */
function applyExample(file: string, name: string): unknown {
  expect(kubectl(['-n', 'example', 'apply', '--dry-run=server', '-f', file])).toContain(
    `samplesource.samples.knative.dev/${name} created (server dry run)`,
  );
  kubectl(['-n', 'example', 'apply', '-f', file]);
  return JSON.parse(kubectl(['-n', 'example', 'get', 'samplesource', name, '-o', 'jsonpath={.spec}']));
}

/** Runs kubectl expecting failure; returns its stderr. */
function kubectlFails(args: string[], input?: string): string {
  try {
    kubectl(args, input);
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
  throw new Error(`kubectl ${args.join(' ')} succeeded but should have failed`);
}

function sampleSource(name: string, spec: string): string {
  return `apiVersion: samples.knative.dev/v1alpha1\nkind: SampleSource\nmetadata:\n  name: ${name}\nspec:\n${spec}\n`;
}

/** Creates namespace `ns` and applies SampleSource `name` with `spec` (YAML lines under spec:) to it. */
function createSourceIn(ns: string, name: string, spec: string): void {
  kubectl(['create', 'namespace', ns]);
  kubectl(['-n', ns, 'apply', '-f', '-'], sampleSource(name, spec));
}

describe('kubectl apply -f config/ on an empty cluster', () => {
  it('installs everything in one go, skipping the Kustomization file', async () => {
    const empty = await startControlPlane({ controllerManager: false });
    try {
      const out = runKubectl(['apply', '-f', CONFIG], { kubeconfig: empty.adminKubeconfig });
      expect(out).toContain('namespace/samplesource-system created');
      expect(out).toContain(
        'customresourcedefinition.apiextensions.k8s.io/samplesources.samples.knative.dev created',
      );
      expect(out).toContain('deployment.apps/samplesource-operator created');
      expect(out).toContain('deployment.apps/samplesource-pool created');
      expect(out).not.toMatch(/Kustomization/);
      // kustomize users get the same objects from the same directory.
      const built = runKubectl(['kustomize', CONFIG], { kubeconfig: empty.adminKubeconfig });
      expect(built.match(/^kind: /gm)?.length).toBe(out.trim().split('\n').length);
    } finally {
      await empty.stop();
    }
  }, 120_000);
});

describe('config/ and example.yaml', () => {
  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: true });
    // Every file passes a server-side dry run before it is applied, in the order of its number.
    for (const file of manifests) {
      expect(kubectl(['apply', '--dry-run=server', '-f', join(CONFIG, file)])).toMatch(/\(server dry run\)/);
      kubectl(['apply', '-f', join(CONFIG, file)]);
    }
    kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/samplesources.samples.knative.dev',
    ]);
  }, 120_000);

  afterAll(async () => {
    await cp?.stop();
  });

  it('applies again without changing anything', () => {
    const out = kubectl(['apply', '-f', CONFIG]);
    expect(
      out
        .trim()
        .split('\n')
        .every((line) => line.endsWith(' unchanged')),
    ).toBe(true);
  });

  it('accepts example.yaml as is (server-side dry run, then for real)', () => {
    kubectl(['create', 'namespace', 'example']);
    expect(applyExample(EXAMPLE, 'sample-source')).toEqual({
      interval: '10s',
      paused: false,
      replicas: 1,
      sink: { ref: { apiVersion: 'v1', kind: 'Service', name: 'event-display' } },
    });
  });

  it('accepts example-shared.yaml next to example.yaml: a shared source on the same sink', () => {
    expect(applyExample(EXAMPLE_SHARED, 'sample-source-shared')).toEqual({
      mode: 'shared',
      interval: '10s',
      paused: false,
      replicas: 1,
      sink: { ref: { apiVersion: 'v1', kind: 'Service', name: 'event-display' } },
    });
  });

  it('installs the shared pool locked down: non-root, read-only, no API token, the pool entry point and its Secret', () => {
    const pool = JSON.parse(
      kubectl(['-n', 'samplesource-system', 'get', 'deployment', 'samplesource-pool', '-o', 'json']),
    ) as {
      spec: {
        replicas: number;
        template: {
          metadata: { labels: Record<string, string> };
          spec: {
            automountServiceAccountToken: boolean;
            securityContext: { runAsNonRoot: boolean; runAsUser: number; runAsGroup: number };
            containers: Array<{
              command: string[];
              image: string;
              securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean };
              readinessProbe?: unknown;
              resources: { limits: Record<string, string> };
            }>;
            volumes: Array<{ secret?: { secretName: string } }>;
          };
        };
      };
    };
    const pod = pool.spec.template.spec;
    expect(pool.spec.replicas).toBe(3);
    expect(pool.spec.template.metadata.labels['app.kubernetes.io/name']).toBe('samplesource-pool');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 });
    const c = pod.containers[0]!;
    expect(c.image).toBe('samplesource-adapter:0.1.0');
    expect(c.command).toEqual(['node', 'dist/adapter/pool/main.js']);
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(c.readinessProbe).toBeDefined();
    expect(c.resources.limits.memory).toBeDefined();
    expect(pod.volumes.map((v) => v.secret?.secretName)).toEqual(['samplesource-pool-tls']);
  });

  it('fills in the defaults', () => {
    createSourceIn('defaults', 'minimal', '  sink:\n    uri: http://display.example/');
    const spec: unknown = JSON.parse(
      kubectl(['-n', 'defaults', 'get', 'samplesrc', 'minimal', '-o', 'jsonpath={.spec}']),
    );
    expect(spec).toEqual({
      interval: '10s',
      paused: false,
      replicas: 1,
      sink: { uri: 'http://display.example/' },
    });
  });

  it.each([
    {
      name: 'an interval that is not a duration',
      spec: '  interval: ten\n  sink: {uri: "http://x.example/"}',
      error: 'spec.interval: Invalid value: "ten": must be a duration such as 500ms, 10s or 1m30s',
    },
    {
      name: 'an interval below 100ms',
      spec: '  interval: 50ms\n  sink: {uri: "http://x.example/"}',
      error: 'spec.interval: Invalid value: "50ms": must be at least 100ms and at most 24h',
    },
    {
      name: 'an interval above 24h',
      spec: '  interval: 25h\n  sink: {uri: "http://x.example/"}',
      error: 'spec.interval: Invalid value: "25h": must be at least 100ms and at most 24h',
    },
    { name: 'no sink', spec: '  interval: 1s', error: 'spec.sink: Required value' },
    {
      name: 'an unknown mode',
      spec: '  mode: pooled\n  sink: {uri: "http://x.example/"}',
      error: 'spec.mode: Unsupported value: "pooled"',
    },
    {
      name: 'a sink with neither ref nor uri',
      spec: '  sink: {}',
      error: 'spec.sink: Invalid value: sink needs at least one of ref and uri',
    },
    {
      name: 'a relative uri without ref',
      spec: '  sink: {uri: /events}',
      error: 'spec.sink.uri: Invalid value: sink.uri must be an absolute http(s) URL when sink.ref is absent',
    },
    {
      name: 'a non-http uri',
      spec: '  sink: {uri: "ftp://x.example/"}',
      error: 'spec.sink.uri: Invalid value: sink.uri must be an absolute http(s) URL when sink.ref is absent',
    },
    {
      name: 'an absolute uri next to a ref',
      spec: '  sink:\n    uri: http://x.example/\n    ref: {apiVersion: v1, kind: Service, name: d}',
      error: 'spec.sink.uri: Invalid value: sink.uri must be relative when sink.ref is set',
    },
    {
      name: 'a ref without a name',
      spec: '  sink:\n    ref: {apiVersion: v1, kind: Service}',
      error: 'spec.sink.ref.name: Required value',
    },
    {
      name: 'too many replicas',
      spec: '  replicas: 11\n  sink: {uri: "http://x.example/"}',
      error: 'spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10',
    },
    {
      name: 'zero replicas',
      spec: '  replicas: 0\n  sink: {uri: "http://x.example/"}',
      error: 'spec.replicas in body should be greater than or equal to 1',
    },
    {
      name: 'paused that is not a boolean',
      spec: '  paused: "yes"\n  sink: {uri: "http://x.example/"}',
      error: 'spec.paused in body must be of type boolean',
    },
    {
      name: 'a bad CloudEvent extension name',
      spec: '  ceOverrides:\n    extensions: {Bad-Name: x}\n  sink: {uri: "http://x.example/"}',
      error:
        'spec.ceOverrides.extensions: Invalid value: extension names must be 1-20 lowercase letters or digits',
    },
    {
      name: 'an extension named after a core CloudEvents attribute',
      spec: '  ceOverrides:\n    extensions: {time: x}\n  sink: {uri: "http://x.example/"}',
      error:
        'spec.ceOverrides.extensions: Invalid value: extension names must not be a core CloudEvents attribute',
    },
    {
      name: 'an extension the SDK treats as a CloudEvents 0.3 attribute (schemaurl)',
      spec: '  ceOverrides:\n    extensions: {schemaurl: x}\n  sink: {uri: "http://x.example/"}',
      error:
        'spec.ceOverrides.extensions: Invalid value: extension names must not be a core CloudEvents attribute',
    },
    {
      name: 'sink CACerts that hold no PEM certificate',
      spec: '  sink: {uri: "https://x.example/", CACerts: "not a certificate"}',
      error: 'spec.sink.CACerts: Invalid value: "not a certificate": CACerts must hold PEM certificates',
    },
    {
      name: 'a bad ServiceAccount name',
      spec: '  serviceAccountName: Not_Valid\n  sink: {uri: "http://x.example/"}',
      error: 'spec.serviceAccountName: Invalid value: "Not_Valid"',
    },
    {
      name: 'an unknown field',
      spec: '  intervall: 1s\n  sink: {uri: "http://x.example/"}',
      error: 'unknown field "spec.intervall"',
    },
  ])('rejects $name with a readable message', ({ spec, error }) => {
    expect(
      kubectlFails(['-n', 'default', 'apply', '--dry-run=server', '-f', '-'], sampleSource('bad', spec)),
    ).toContain(error);
  });

  it('rejects a name too long for the adapter labels', () => {
    const stderr = kubectlFails(
      ['-n', 'default', 'apply', '--dry-run=server', '-f', '-'],
      sampleSource('n'.repeat(64), '  sink: {uri: "http://x.example/"}'),
    );
    expect(stderr).toContain('metadata.name must be at most 63 characters');
  });

  it('accepts what the schema should accept', () => {
    const specs = [
      '  interval: 1h30m\n  sink: {uri: "https://x.example/in"}',
      '  interval: 1.5s\n  paused: true\n  replicas: 10\n  sink: {uri: "http://x.example/"}',
      '  mode: shared\n  sink: {uri: "http://x.example/"}',
      '  mode: dedicated\n  sink: {uri: "http://x.example/"}',
      '  sink:\n    uri: /events\n    ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}',
      '  ceOverrides:\n    extensions: {team: blue, env2: prod}\n  serviceAccountName: heartbeat-sa\n  sink: {uri: "http://x.example/"}',
    ];
    for (const spec of specs) {
      expect(
        kubectl(['-n', 'default', 'apply', '--dry-run=server', '-f', '-'], sampleSource('good', spec)),
      ).toContain('(server dry run)');
    }
  });

  it('stores the status the reconciler computes and prints it in the columns', () => {
    createSourceIn('columns', 'printed', '  interval: 2s\n  sink: {uri: "http://display.example/"}');
    const object: unknown = JSON.parse(
      kubectl(['-n', 'columns', 'get', 'samplesource', 'printed', '-o', 'json']),
    );
    const adapter = { image: 'samplesource-adapter:0.1.0' };
    // The world as the operator would see it with one ready adapter that applied generation 1.
    const parsed = parseSampleSource(object);
    if (!parsed.ok) throw new Error(`example object is invalid: ${JSON.stringify(parsed.errors)}`);
    const deployment = buildAdapterDeployment(parsed.source, 'http://display.example/', adapter);
    deployment.metadata!.generation = 1;
    deployment.status = { observedGeneration: 1, conditions: [{ type: 'Available', status: 'True' }] };
    const plan = planReconcile(
      object,
      {
        deployment,
        readyPods: ['adapter-a'],
        // Applied with the sink it was sent (a report for another sink would be sent again, Processing).
        reports: new Map([
          [
            'adapter-a',
            {
              generation: 1,
              state: 'succeeded' as const,
              sinkKey: sinkKey({ uri: 'http://display.example/' }),
            },
          ],
        ]),
        now: new Date(),
      },
      { adapter },
    );
    expect(plan.deployment?.action).toBe('none');
    kubectl([
      '-n',
      'columns',
      'patch',
      'samplesource',
      'printed',
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: plan.status }),
    ]);
    const stored: unknown = JSON.parse(
      kubectl(['-n', 'columns', 'get', 'samplesource', 'printed', '-o', 'jsonpath={.status}']),
    );
    expect(stored).toEqual(plan.status);
    const [header, row] = kubectl(['-n', 'columns', 'get', 'samplesources']).trim().split('\n') as [
      string,
      string,
    ];
    expect(header.split(/\s+/)).toEqual([
      'NAME',
      'READY',
      'REASON',
      'INTERVAL',
      'PAUSED',
      'MODE',
      'SINK',
      'AGE',
    ]);
    // Cut the row at the header's column starts: an empty Reason prints as blanks.
    const starts = [...header.matchAll(/\S+/g)].map((m) => m.index);
    const cells = starts.map((at, i) => row.slice(at, starts[i + 1]).trim());
    expect(cells.slice(0, 7)).toEqual([
      'printed',
      'True',
      '',
      '2s',
      'false',
      'dedicated',
      'http://display.example/',
    ]);
    expect(kubectl(['-n', 'columns', 'get', 'samplesources', '-o', 'wide']).split('\n')[0]).toMatch(
      /POOL-POD +REPLICAS/,
    );
    // Found by its short name and through the Knative categories.
    expect(kubectl(['-n', 'columns', 'get', 'samplesrc', '-o', 'name'])).toContain(
      'samplesource.samples.knative.dev/printed',
    );
    expect(kubectl(['-n', 'columns', 'get', 'sources', '-o', 'name'])).toContain(
      'samplesource.samples.knative.dev/printed',
    );
  });

  it('rejects a status outside the schema', () => {
    createSourceIn('badstatus', 's', '  sink: {uri: "http://display.example/"}');
    const stderr = kubectlFails([
      '-n',
      'badstatus',
      'patch',
      'samplesource',
      's',
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"conditions":[{"type":"Ready","status":"Maybe"}]}}',
    ]);
    expect(stderr).toContain('Unsupported value: "Maybe"');
  });

  it.each([
    { field: 'samplesource', text: ['SampleSource sends a heartbeat CloudEvent'] },
    {
      field: 'samplesource.spec.interval',
      text: ['Go duration string', 'At least 100ms, at most 24h', 'Defaults to 10s'],
    },
    { field: 'samplesource.spec.sink', text: ['Knative Destination', 'ref', 'uri'] },
    { field: 'samplesource.spec.sink.ref', text: ['Addressable', 'apiVersion', 'namespace'] },
    { field: 'samplesource.spec.replicas', text: ['At least 1, at most 10', 'Defaults to 1'] },
    { field: 'samplesource.spec.paused', text: ['without stopping the adapter pods'] },
    {
      field: 'samplesource.status.conditions',
      text: ['Ready (depends on SinkProvided, Deployed and ConfigApplied)', 'severity'],
    },
  ])('kubectl explain $field helps', ({ field, text }) => {
    const out = kubectl(['explain', field]);
    for (const t of text) expect(out).toContain(t);
  });

  it('labels the CRD as a Knative source', () => {
    const labels: unknown = JSON.parse(
      kubectl(['get', 'crd', 'samplesources.samples.knative.dev', '-o', 'jsonpath={.metadata.labels}']),
    );
    expect(labels).toMatchObject({
      'eventing.knative.dev/source': 'true',
      'duck.knative.dev/source': 'true',
    });
  });

  describe("the operator's RBAC", () => {
    const cases: Array<{ can: boolean; args: string[] }> = [
      { can: true, args: ['watch', 'samplesources.samples.knative.dev', '--all-namespaces'] },
      { can: true, args: ['update', 'samplesources.samples.knative.dev', '-n', 'any'] },
      {
        can: true,
        args: ['patch', 'samplesources.samples.knative.dev', '--subresource=status', '-n', 'any'],
      },
      {
        can: true,
        args: ['update', 'samplesources.samples.knative.dev', '--subresource=finalizers', '-n', 'any'],
      },
      { can: true, args: ['create', 'deployments.apps', '-n', 'any'] },
      { can: true, args: ['delete', 'deployments.apps', '-n', 'any'] },
      { can: true, args: ['create', 'secrets', '-n', 'any'] },
      { can: true, args: ['get', 'secrets', '-n', 'samplesource-system'] },
      { can: true, args: ['list', 'pods', '--all-namespaces'] },
      // The shared pool: its pods watched in the operator's namespace, its certificate Secret written there.
      { can: true, args: ['watch', 'pods', '-n', 'samplesource-system'] },
      { can: true, args: ['update', 'secrets', '-n', 'samplesource-system'] },
      { can: true, args: ['get', 'services', '-n', 'any'] },
      { can: true, args: ['create', 'events', '-n', 'any'] },
      { can: true, args: ['patch', 'events.events.k8s.io', '-n', 'any'] },
      { can: true, args: ['update', 'leases.coordination.k8s.io', '-n', 'samplesource-system'] },
      { can: false, args: ['create', 'samplesources.samples.knative.dev', '-n', 'any'] },
      { can: false, args: ['delete', 'samplesources.samples.knative.dev', '-n', 'any'] },
      { can: false, args: ['create', 'pods', '-n', 'any'] },
      { can: false, args: ['delete', 'pods', '-n', 'any'] },
      { can: false, args: ['create', 'services', '-n', 'any'] },
      { can: false, args: ['update', 'leases.coordination.k8s.io', '-n', 'default'] },
      { can: false, args: ['get', 'configmaps', '-n', 'any'] },
      { can: false, args: ['create', 'configmaps', '-n', 'samplesource-system'] },
      { can: false, args: ['get', 'nodes'] },
      { can: false, args: ['create', 'clusterrolebindings.rbac.authorization.k8s.io'] },
      // OIDC sinks: a ServiceAccount per source with an audience, and tokens of it; nothing more.
      { can: true, args: ['create', 'serviceaccounts', '--subresource=token', '-n', 'any'] },
      { can: true, args: ['create', 'serviceaccounts', '-n', 'any'] },
      { can: true, args: ['delete', 'serviceaccounts', '-n', 'any'] },
      { can: true, args: ['watch', 'serviceaccounts', '--all-namespaces'] },
      { can: false, args: ['update', 'serviceaccounts', '-n', 'any'] },
      { can: false, args: ['patch', 'serviceaccounts', '-n', 'any'] },
      { can: false, args: ['delete', 'customresourcedefinitions.apiextensions.k8s.io'] },
    ];
    it.each(cases)('can $args: $can', ({ can, args }) => {
      let answer: string;
      try {
        answer = kubectl(['auth', 'can-i', ...args, `--as=${OPERATOR_SA}`]).trim();
      } catch (err) {
        // can-i exits 1 for "no".
        answer = String((err as { stdout?: string }).stdout ?? '').trim();
      }
      expect(answer).toBe(can ? 'yes' : 'no');
    });

    it('works with a real ServiceAccount token, not only impersonation', async () => {
      const kubeconfig = await cp.kubeconfigForServiceAccount('samplesource-system', 'samplesource-operator');
      expect(
        runKubectl(['get', 'samplesources', '--all-namespaces', '-o', 'name'], { kubeconfig }),
      ).toContain('samplesource.samples.knative.dev/');
      let stderr = '';
      try {
        runKubectl(['get', 'configmaps', '-n', 'default'], { kubeconfig });
      } catch (err) {
        stderr = String((err as { stderr?: string }).stderr);
      }
      expect(stderr).toContain('Forbidden');
    });

    it('gains read access to Addressables that Knative labels duck.knative.dev/addressable', async () => {
      const review = (group: string, resource: string) =>
        JSON.stringify({
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: OPERATOR_SA,
            groups: [
              'system:serviceaccounts',
              'system:serviceaccounts:samplesource-system',
              'system:authenticated',
            ],
            resourceAttributes: { group, resource, verb: 'get', namespace: 'any' },
          },
        });
      const allowed = () =>
        (
          JSON.parse(kubectl(['create', '-o', 'json', '-f', '-'], review('example.com', 'widgets'))) as {
            status: { allowed?: boolean };
          }
        ).status.allowed === true;
      expect(allowed()).toBe(false);
      kubectl(
        ['apply', '-f', '-'],
        `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: widgets-addressable-resolver
  labels:
    duck.knative.dev/addressable: "true"
rules:
  - apiGroups: ["example.com"]
    resources: ["widgets"]
    verbs: ["get", "list", "watch"]
`,
      );
      await eventually('the aggregated role to include widgets', async () => (allowed() ? true : undefined));
      // Re-applying config/ must not wipe what the aggregation controller added.
      kubectl(['apply', '-f', CONFIG]);
      expect(allowed()).toBe(true);
    });
  });
});
