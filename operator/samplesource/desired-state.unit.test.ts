// Reconcile table, Knative style: the object and the observed world in; the children to write,
// the commands to send, the status and the events out.
import type { V1Deployment } from '@kubernetes/client-node';
import type { Condition } from '../runtime/conditions.js';
import type { SampleSourceStatus } from '../../contract/samplesource.js';
import {
  desiredAdapterState,
  planReconcile,
  podsNeedingState,
  type ObservedWorld,
  type PlannedEvent,
} from './desired-state.js';
import type { PodReport } from './status.js';
import { sinkKey } from './adapter-sink.js';
import { createCertificateAuthority } from '../../control/index.js';
import { NOW, UID, sampleSourceObject, storedDeployment, validSource } from './fixtures.js';

const DEPLOYMENT = `samplesource-sample-source-${UID}`;
const SERVICE_URI = 'http://display.demo.svc.cluster.local';
const options = { adapter: { image: 'samplesource-adapter:0.1.0' } };
const serviceFound = { found: true as const, object: { kind: 'Service' } };

const raw = sampleSourceObject;

// The adapter Deployment as the API server would hold it once the Deployment controller saw it.
function stored(spec: Record<string, unknown> = {}, available = true, sinkUri = SERVICE_URI): V1Deployment {
  return storedDeployment(validSource(raw(spec)), sinkUri, options.adapter, available);
}

/** The digest of the sink each report below was sent with (the display Service, unless said). */
const SENT_SINK = sinkKey({ uri: SERVICE_URI });
const ok = (generation: number, sent = SENT_SINK): PodReport => ({
  generation,
  state: 'succeeded',
  ...(sent ? { sinkKey: sent } : {}),
});
const world = (w: Partial<ObservedWorld>): ObservedWorld => ({
  sinkLookup: serviceFound,
  readyPods: [],
  reports: new Map(),
  now: NOW,
  ...w,
});
const conditionsOf = (s: SampleSourceStatus | undefined) =>
  Object.fromEntries(
    (s?.conditions ?? []).map((c: Condition) => [c.type, c.reason ? `${c.status}/${c.reason}` : c.status]),
  );

// A status as a previous, successful reconcile left it.
function readyStatus(generation: number): SampleSourceStatus {
  const plan = planReconcile(
    raw({}, generation),
    world({
      deployment: stored(),
      readyPods: ['a', 'b'],
      reports: new Map([
        ['a', ok(generation)],
        ['b', ok(generation)],
      ]),
    }),
    options,
  );
  return plan.status!;
}

function pausedStatus(generation: number): SampleSourceStatus {
  const plan = planReconcile(
    raw({ paused: true }, generation),
    world({
      deployment: stored(),
      readyPods: ['a', 'b'],
      reports: new Map([
        ['a', ok(generation)],
        ['b', ok(generation)],
      ]),
    }),
    options,
  );
  return plan.status!;
}

interface Row {
  name: string;
  object: unknown;
  world: ObservedWorld;
  deployment?: 'create' | 'update' | 'none' | 'conflict';
  sendTo: string[];
  conditions?: Record<string, string>;
  statusChanged: boolean;
  events: PlannedEvent[];
}

const rows: Row[] = [
  {
    name: 'new source: create the Deployment, nothing to steer yet',
    object: raw(),
    world: world({}),
    deployment: 'create',
    sendTo: [],
    conditions: {
      Active: 'Unknown/AwaitingAdapters',
      ConfigApplied: 'Unknown/AwaitingAdapters',
      Deployed: 'Unknown/DeploymentMissing',
      Ready: 'Unknown/DeploymentMissing',
      SinkProvided: 'True',
    },
    statusChanged: true,
    events: [
      { type: 'Normal', reason: 'DeploymentCreated', message: `Created adapter Deployment ${DEPLOYMENT}` },
    ],
  },
  {
    name: 'pods ready, no results: send the state to every ready pod',
    object: raw(),
    world: world({ deployment: stored(), readyPods: ['b', 'a'] }),
    deployment: 'none',
    sendTo: ['a', 'b'],
    conditions: {
      Active: 'Unknown/AwaitingAdapters',
      ConfigApplied: 'Unknown/Processing',
      Deployed: 'True',
      Ready: 'Unknown/Processing',
      SinkProvided: 'True',
    },
    statusChanged: true,
    events: [],
  },
  {
    name: 'every ready pod applied the generation: Ready',
    object: raw(),
    world: world({
      deployment: stored(),
      readyPods: ['a', 'b'],
      reports: new Map([
        ['a', ok(1)],
        ['b', ok(1)],
      ]),
    }),
    deployment: 'none',
    sendTo: [],
    conditions: {
      Active: 'True',
      ConfigApplied: 'True',
      Deployed: 'True',
      Ready: 'True',
      SinkProvided: 'True',
    },
    statusChanged: true,
    events: [
      {
        type: 'Normal',
        reason: 'ConfigApplied',
        message: 'Generation 1 (every 10s) applied by 2 adapter pods',
      },
      { type: 'Normal', reason: 'Ready', message: 'The SampleSource is Ready' },
    ],
  },
  {
    name: 'steady state: nothing to write, send or record',
    object: raw({}, 1, readyStatus(1)),
    world: world({
      deployment: stored(),
      readyPods: ['a', 'b'],
      reports: new Map([
        ['a', ok(1)],
        ['b', ok(1)],
      ]),
    }),
    deployment: 'none',
    sendTo: [],
    statusChanged: false,
    events: [],
  },
  {
    name: 'only the interval changed: Deployment untouched, new state to every pod',
    object: raw({ interval: '2s' }, 2, readyStatus(1)),
    world: world({
      deployment: stored(),
      readyPods: ['a', 'b'],
      reports: new Map([
        ['a', ok(1)],
        ['b', ok(1)],
      ]),
    }),
    deployment: 'none',
    sendTo: ['a', 'b'],
    conditions: {
      Active: 'True',
      ConfigApplied: 'Unknown/Processing',
      Deployed: 'True',
      Ready: 'Unknown/Processing',
      SinkProvided: 'True',
    },
    statusChanged: true,
    events: [],
  },
  {
    name: 'paused: Deployment untouched; once applied Active is False/Paused and Ready stays True',
    object: raw({ paused: true }, 2, readyStatus(1)),
    world: world({
      deployment: stored(),
      readyPods: ['a', 'b'],
      reports: new Map([
        ['a', ok(2)],
        ['b', ok(2)],
      ]),
    }),
    deployment: 'none',
    sendTo: [],
    conditions: {
      Active: 'False/Paused',
      ConfigApplied: 'True',
      Deployed: 'True',
      Ready: 'True',
      SinkProvided: 'True',
    },
    statusChanged: true,
    events: [
      { type: 'Normal', reason: 'ConfigApplied', message: 'Generation 2 (paused) applied by 2 adapter pods' },
      { type: 'Normal', reason: 'Paused', message: 'Heartbeats paused' },
    ],
  },
  {
    name: 'resumed: once applied Active is True again, with a Resumed event',
    object: raw({ paused: false }, 3, pausedStatus(2)),
    world: world({
      deployment: stored(),
      readyPods: ['a', 'b'],
      reports: new Map([
        ['a', ok(3)],
        ['b', ok(3)],
      ]),
    }),
    deployment: 'none',
    sendTo: [],
    conditions: {
      Active: 'True',
      ConfigApplied: 'True',
      Deployed: 'True',
      Ready: 'True',
      SinkProvided: 'True',
    },
    statusChanged: true,
    events: [
      {
        type: 'Normal',
        reason: 'ConfigApplied',
        message: 'Generation 3 (every 10s) applied by 2 adapter pods',
      },
      { type: 'Normal', reason: 'Resumed', message: 'Heartbeats resumed, every 10s' },
    ],
  },
  {
    name: 'a command in flight or failed for this generation is not sent again',
    object: raw({}, 2),
    world: world({
      deployment: stored(),
      readyPods: ['a', 'b', 'c'],
      reports: new Map<string, PodReport>([
        ['a', { generation: 2, state: 'pending', sinkKey: SENT_SINK }],
        ['b', { generation: 2, state: 'failed', reason: 'Boom', message: 'no', sinkKey: SENT_SINK }],
        ['c', ok(1)],
      ]),
    }),
    deployment: 'none',
    sendTo: ['c'],
    conditions: {
      Active: 'Unknown/AwaitingAdapters',
      ConfigApplied: 'False/Boom',
      Deployed: 'True',
      Ready: 'False/Boom',
      SinkProvided: 'True',
    },
    statusChanged: true,
    events: [{ type: 'Warning', reason: 'Boom', message: 'pod b: no' }],
  },
  {
    name: 'the sink moved in the spec: no rollout, the new sink to every pod over the stream, Processing',
    object: raw({ sink: { uri: 'http://elsewhere.example/' } }, 2, readyStatus(1)),
    world: world({
      deployment: stored(),
      readyPods: ['a', 'b'],
      reports: new Map([
        ['a', ok(1)],
        ['b', ok(1)],
      ]),
    }),
    deployment: 'none',
    sendTo: ['a', 'b'],
    conditions: {
      Active: 'True',
      ConfigApplied: 'Unknown/Processing',
      Deployed: 'True',
      Ready: 'Unknown/Processing',
      SinkProvided: 'True',
    },
    statusChanged: true,
    events: [],
  },
  {
    name: "the sink moved without a new generation (an Addressable's address): sent again to every pod, Processing",
    object: raw({ sink: { uri: 'http://moved.example/' } }, 1, readyStatus(1)),
    world: world({
      deployment: stored(),
      readyPods: ['a', 'b'],
      reports: new Map([
        ['a', ok(1)],
        ['b', ok(1)],
      ]),
    }),
    deployment: 'none',
    sendTo: ['a', 'b'],
    conditions: {
      Active: 'True',
      ConfigApplied: 'Unknown/Processing',
      Deployed: 'True',
      Ready: 'Unknown/Processing',
      SinkProvided: 'True',
    },
    statusChanged: true,
    events: [],
  },
  {
    name: 'the moved sink applied by every pod: Ready again, nothing sent',
    object: raw({ sink: { uri: 'http://moved.example/' } }, 1, readyStatus(1)),
    world: world({
      deployment: stored(),
      readyPods: ['a', 'b'],
      reports: new Map([
        ['a', ok(1, sinkKey({ uri: 'http://moved.example/' }))],
        ['b', ok(1, sinkKey({ uri: 'http://moved.example/' }))],
      ]),
    }),
    deployment: 'none',
    sendTo: [],
    conditions: {
      Active: 'True',
      ConfigApplied: 'True',
      Deployed: 'True',
      Ready: 'True',
      SinkProvided: 'True',
    },
    statusChanged: true,
    events: [],
  },
  {
    name: 'a failure for the current generation and sink is not resent; a moved sink is',
    object: raw({}, 2),
    world: world({
      deployment: stored(),
      readyPods: ['a', 'b'],
      reports: new Map<string, PodReport>([
        ['a', { generation: 2, state: 'failed', reason: 'Boom', message: 'no', sinkKey: SENT_SINK }],
        ['b', { generation: 2, state: 'failed', reason: 'Boom', message: 'no', sinkKey: 'old' }],
      ]),
    }),
    deployment: 'none',
    sendTo: ['b'],
    conditions: {
      Active: 'Unknown/AwaitingAdapters',
      ConfigApplied: 'False/Boom',
      Deployed: 'True',
      Ready: 'False/Boom',
      SinkProvided: 'True',
    },
    statusChanged: true,
    events: [{ type: 'Warning', reason: 'Boom', message: 'pod a: no' }],
  },
  {
    name: 'the sink Service is gone: SinkProvided False, Deployment left alone, one warning',
    object: raw({}, 1, readyStatus(1)),
    world: world({
      sinkLookup: { found: false },
      deployment: stored(),
      readyPods: ['a', 'b'],
      reports: new Map([
        ['a', ok(1)],
        ['b', ok(1)],
      ]),
    }),
    sendTo: [],
    conditions: {
      Active: 'True',
      ConfigApplied: 'True',
      Deployed: 'True',
      Ready: 'False/SinkNotFound',
      SinkProvided: 'False/SinkNotFound',
    },
    statusChanged: true,
    events: [
      { type: 'Warning', reason: 'SinkNotFound', message: 'Service demo/display (v1) does not exist' },
    ],
  },
  {
    name: 'a Deployment of that name belongs to someone else',
    object: raw(),
    world: world({
      deployment: { ...stored(), metadata: { ...stored().metadata, ownerReferences: [] } },
      readyPods: ['a'],
    }),
    deployment: 'conflict',
    sendTo: [],
    conditions: {
      Active: 'Unknown/AwaitingAdapters',
      ConfigApplied: 'Unknown/AwaitingAdapters',
      Deployed: 'False/NotOwned',
      Ready: 'False/NotOwned',
      SinkProvided: 'True',
    },
    statusChanged: true,
    events: [
      {
        type: 'Warning',
        reason: 'NotOwned',
        message: `Deployment ${DEPLOYMENT} exists and is not controlled by this SampleSource`,
      },
    ],
  },
  {
    name: 'a spec that slipped past the schema: False conditions, no children touched',
    object: raw({ interval: '5ms', sink: { uri: '/relative' } }, 3),
    world: world({ deployment: stored(), readyPods: ['a'] }),
    sendTo: [],
    conditions: {
      ConfigApplied: 'False/InvalidSpec',
      Ready: 'False/InvalidSpec',
      SinkProvided: 'False/InvalidSpec',
    },
    statusChanged: true,
    events: [
      {
        type: 'Warning',
        reason: 'InvalidSpec',
        message:
          'spec.interval: interval "5ms" is below the minimum 100ms; spec.sink.uri: uri "/relative" must be an absolute http(s) URL when ref is absent',
      },
    ],
  },
  {
    name: 'metadata that cannot be used: nothing at all',
    object: { metadata: { name: 'x' } },
    world: world({}),
    sendTo: [],
    statusChanged: false,
    events: [],
  },
];

describe('planReconcile', () => {
  let TEST_CA_PEM = '';
  beforeAll(async () => {
    TEST_CA_PEM = (await createCertificateAuthority({ commonName: 'desired-state sink CA' })).certPem;
  });
  it.each(rows)('$name', (row) => {
    const plan = planReconcile(row.object, row.world, options);
    expect(plan.deployment?.action).toBe(row.deployment);
    expect(plan.sendTo).toEqual(row.sendTo);
    if (row.conditions) expect(conditionsOf(plan.status)).toEqual(row.conditions);
    expect(plan.statusChanged).toBe(row.statusChanged);
    expect(plan.events).toEqual(row.events);
    if (plan.sendTo.length > 0)
      expect(plan.adapterState).toEqual(desiredAdapterState(plan.source!, plan.sink));
  });

  it('reports the invalid spec only once per transition', () => {
    const bad = raw({ replicas: 99 }, 3);
    const first = planReconcile(bad, world({}), options);
    const again = planReconcile(
      { ...bad, status: first.status },
      world({ now: new Date('2026-11-25T13:00:00Z') }),
      options,
    );
    expect(first.events).toHaveLength(1);
    expect(again.events).toEqual([]);
    expect(again.statusChanged).toBe(false);
  });

  it('never rolls the pods when only interval and paused change', () => {
    const existing = stored();
    const plan = planReconcile(
      raw({ interval: '750ms', paused: true }, 5),
      world({ deployment: existing, readyPods: ['a'] }),
      options,
    );
    expect(plan.deployment).toEqual({ action: 'none', deployment: existing });
    expect(plan.adapterState).toEqual({
      generation: 5,
      interval: '750ms',
      paused: true,
      sink: { uri: SERVICE_URI },
    });
  });

  it('carries the resolved sink (uri, CA certificates, audience) in the state, and none while it does not resolve', () => {
    const plan = planReconcile(
      raw({ sink: { uri: 'https://secure.example/', CACerts: TEST_CA_PEM, audience: 'aud-1' } }, 2),
      world({ deployment: stored(), readyPods: ['a'] }),
      options,
    );
    expect(plan.deployment?.action).toBe('none');
    expect(plan.adapterState?.sink).toEqual({
      uri: 'https://secure.example/',
      caCerts: TEST_CA_PEM,
      audience: 'aud-1',
    });
    const gone = planReconcile(
      raw({}, 2),
      world({ sinkLookup: { found: false }, deployment: stored(), readyPods: ['a'] }),
      options,
    );
    expect(gone.adapterState).toEqual({ generation: 2, interval: '10s', paused: false });
    expect(gone.sendTo).toEqual(['a']);
  });
});

describe('podsNeedingState', () => {
  it.each([
    { name: 'no reports', reports: {}, want: ['a', 'b'] },
    { name: 'older generation', reports: { a: ok(1), b: ok(2) }, want: ['a'] },
    {
      name: 'pending or failed current generation',
      reports: { a: { generation: 2, state: 'pending' }, b: { generation: 2, state: 'failed' } },
      want: [],
    },
    {
      name: 'current generation sent with another sink (or none)',
      reports: {
        a: { generation: 2, state: 'succeeded', sinkKey: 'k1' },
        b: { generation: 2, state: 'pending' },
      },
      sink: 'k2',
      want: ['a', 'b'],
    },
    {
      name: 'current generation and sink, or a newer generation (our cache is behind)',
      reports: {
        a: { generation: 2, state: 'pending', sinkKey: 'k2' },
        b: { generation: 3, state: 'succeeded' },
      },
      sink: 'k2',
      want: [],
    },
  ])('$name', ({ reports, want, sink }: { reports: object; want: string[]; sink?: string }) => {
    expect(
      podsNeedingState(2, ['b', 'a'], new Map(Object.entries(reports as Record<string, PodReport>)), sink),
    ).toEqual(want);
  });
});

describe('planReconcile: spec.mode and the operator default', () => {
  test.each<[string, Record<string, unknown>, 'dedicated' | 'shared' | undefined, 'dedicated' | 'shared']>([
    ['unset, no operator default', {}, undefined, 'dedicated'],
    ['unset, operator default dedicated', {}, 'dedicated', 'dedicated'],
    ['explicit dedicated beats an operator default shared', { mode: 'dedicated' }, 'shared', 'dedicated'],
    ['unset, operator default shared', {}, 'shared', 'shared'],
    ['explicit shared', { mode: 'shared' }, 'dedicated', 'shared'],
  ])('%s runs %s', (_name, spec, defaultMode, want) => {
    const plan = planReconcile(
      raw(spec),
      world({ deployment: stored(spec) }),
      defaultMode ? { ...options, defaultMode } : options,
    );
    expect(plan.status?.mode).toBe(want);
    if (want === 'dedicated') {
      expect(plan.deployment).toBeDefined();
    } else {
      // Shared: the Deployment it had is deleted first; the pool gets the source once it is gone.
      expect(plan.deployment).toBeUndefined();
      expect(plan.deleteDeployment).toBe(true);
      expect(plan.poolUpsert).toBeUndefined();
      expect(plan.sendTo).toEqual([]);
      expect(conditionsOf(plan.status)).toMatchObject({
        Deployed: 'Unknown/NoPoolPod',
        Ready: 'Unknown/NoPoolPod',
      });
    }
  });

  test('an invalid mode is a spec error on that source', () => {
    const plan = planReconcile(raw({ mode: 'pooled' }), world({}), options);
    expect(conditionsOf(plan.status)).toMatchObject({ Ready: 'False/InvalidSpec' });
    expect(plan.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain('spec.mode');
  });
});
