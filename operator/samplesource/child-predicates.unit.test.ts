import type { KubeObject } from '../runtime/index.js';
import { deploymentChanged, podChanged } from './child-predicates.js';

type Entry = Record<string, unknown>;
/** A test object: metadata as KubeObject has it, a loosely typed status to edit. */
type Obj = KubeObject & {
  spec?: Entry;
  status: Entry & { conditions: Entry[]; containerStatuses?: Entry[] };
};

// A Deployment as kube-controller-manager leaves it for a pod that stays Pending.
const deployment = (): Obj => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'samplesource-a',
    namespace: 'demo',
    generation: 1,
    resourceVersion: '10',
    labels: { app: 'x' },
    ownerReferences: [{ apiVersion: 'v', kind: 'SampleSource', name: 'a', uid: 'u', controller: true }],
  },
  spec: { replicas: 1 },
  status: {
    observedGeneration: 1,
    replicas: 1,
    unavailableReplicas: 1,
    conditions: [
      {
        type: 'Available',
        status: 'False',
        reason: 'MinimumReplicasUnavailable',
        message: 'm',
        lastUpdateTime: 't1',
      },
      {
        type: 'Progressing',
        status: 'True',
        reason: 'ReplicaSetUpdated',
        message: 'p',
        lastUpdateTime: 't1',
      },
    ],
  },
});

const pod = (): Obj => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'demo', uid: 'pu', resourceVersion: '3', labels: { src: 'a' } },
  status: {
    phase: 'Running',
    podIP: '10.0.0.1',
    conditions: [{ type: 'Ready', status: 'True', lastProbeTime: null }],
    containerStatuses: [{ name: 'adapter', restartCount: 0, ready: true }],
  },
});

const cases: Array<{ name: string; of: () => Obj; edit: (o: Obj) => void; passes: boolean }> = [
  {
    name: 'Deployment: only replica counters and timestamps',
    of: deployment,
    passes: false,
    edit: (d) => {
      d.metadata.resourceVersion = '11';
      d.status.unavailableReplicas = 0;
      d.status.updatedReplicas = 1;
      d.status.conditions[0]!.lastUpdateTime = 't2';
      Object.assign(d.metadata, { managedFields: [{ manager: 'kcm' }] });
    },
  },
  {
    name: 'Deployment: spec change (generation)',
    of: deployment,
    passes: true,
    edit: (d) => {
      d.metadata.generation = 2;
    },
  },
  {
    name: 'Deployment: observedGeneration',
    of: deployment,
    passes: true,
    edit: (d) => {
      d.status.observedGeneration = 2;
    },
  },
  {
    name: 'Deployment: Available turns True',
    of: deployment,
    passes: true,
    edit: (d) => {
      d.status.conditions[0]!.status = 'True';
    },
  },
  {
    name: 'Deployment: Progressing message',
    of: deployment,
    passes: true,
    edit: (d) => {
      d.status.conditions[1]!.message = 'other';
    },
  },
  {
    name: 'Deployment: labels',
    of: deployment,
    passes: true,
    edit: (d) => {
      d.metadata.labels = { app: 'y' };
    },
  },
  {
    name: 'Deployment: owner references',
    of: deployment,
    passes: true,
    edit: (d) => {
      d.metadata.ownerReferences = [];
    },
  },
  {
    name: 'Deployment: deletion',
    of: deployment,
    passes: true,
    edit: (d) => {
      d.metadata.deletionTimestamp = '2026-12-03T00:00:00Z';
    },
  },
  {
    name: 'Pod: container statuses and probe times only',
    of: pod,
    passes: false,
    edit: (p) => {
      p.metadata.resourceVersion = '4';
      p.status.containerStatuses![0]!.restartCount = 1;
      p.status.conditions[0]!.lastProbeTime = 'now';
    },
  },
  {
    name: 'Pod: Ready turns False',
    of: pod,
    passes: true,
    edit: (p) => {
      p.status.conditions[0]!.status = 'False';
    },
  },
  {
    name: 'Pod: phase',
    of: pod,
    passes: true,
    edit: (p) => {
      p.status.phase = 'Failed';
    },
  },
  {
    name: 'Pod: IP',
    of: pod,
    passes: true,
    edit: (p) => {
      p.status.podIP = '10.0.0.2';
    },
  },
  {
    name: 'Pod: labels',
    of: pod,
    passes: true,
    edit: (p) => {
      p.metadata.labels = {};
    },
  },
  {
    name: 'Pod: terminating',
    of: pod,
    passes: true,
    edit: (p) => {
      p.metadata.deletionTimestamp = '2026-12-03T00:00:00Z';
    },
  },
];

describe('deploymentChanged / podChanged', () => {
  it.each(cases)('$name: passes=$passes', ({ of, edit, passes }) => {
    const before = of();
    const after = of();
    edit(after);
    const predicate = before.kind === 'Pod' ? podChanged() : deploymentChanged();
    expect(predicate.update!(before, after)).toBe(passes);
    // Unchanged objects never pass; adds and deletes are not filtered.
    expect(predicate.update!(before, of())).toBe(false);
    expect(Object.keys(predicate)).toEqual(['update']);
  });
});
