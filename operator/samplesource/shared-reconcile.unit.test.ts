// Shared mode, Knative-style tables: first the pure plan (planReconcile with the mode world and the
// pool's view in; pool steps, Deployment steps, status and Events out), then the reconciler's side
// effects over the recording fake API server and a recording pool: placement, the deletion of a
// Deployment left from dedicated mode, the live switch back, and a deleted source let go.
import type { V1Deployment, V1Pod, V1Secret } from '@kubernetes/client-node';
import { resourcePath } from '../runtime/index.js';
import { RecordingFakeClient } from '../runtime/testing.js';
import type { SampleSourceStatus } from '../../contract/samplesource.js';
import type { SharedSource, SharedSourceStatus } from '../pool/pool-sessions.js';
import { planReconcile, type ObservedWorld } from './desired-state.js';
import { handoverOf, type ModeWorld } from './shared-mode.js';
import type { PodReport } from './status.js';
import type { SessionsPort } from './reconciler.js';
import { SAMPLESOURCE_RESOURCE } from './resource.js';
import { adapterDeploymentName, certSecretName } from './names.js';
import { OperatorPki } from './operator-pki.js';
import {
  NOW,
  UID,
  adapterPod,
  cacheOf,
  conditionsOf,
  DISPLAY_SERVICE,
  FakePool,
  fixtureReconciler,
  sampleSourceObject,
  storedDeployment,
  testAdapterPki,
  validSource,
} from './fixtures.js';

const NS = 'demo';
const KEY = `${NS}/sample-source`;
const SINK_URI = 'http://display.demo.svc.cluster.local';
const options = { adapter: { image: 'samplesource-adapter:0.1.0' } };
const serviceFound = { found: true as const, object: { kind: 'Service' } };
const shared = (spec: Record<string, unknown> = {}, generation = 1, status?: SampleSourceStatus) =>
  sampleSourceObject({ mode: 'shared', ...spec }, generation, status);
const dedicated = (spec: Record<string, unknown> = {}, generation = 1, status?: SampleSourceStatus) =>
  sampleSourceObject({ mode: 'dedicated', ...spec }, generation, status);
const noSwitch: ModeWorld = {
  deploymentExists: false,
  dedicatedPods: 0,
  readyDedicatedPods: 0,
  inPool: false,
};
const running = (pod: string, generation = 1): SharedSourceStatus => ({
  phase: 'running',
  pod,
  appliedGeneration: generation,
});
const READY = {
  Active: 'True',
  ConfigApplied: 'True',
  Deployed: 'True/AssignedToPool',
  Ready: 'True',
  SinkProvided: 'True',
};

function world(w: Partial<ObservedWorld>): ObservedWorld {
  return { sinkLookup: serviceFound, readyPods: [], reports: new Map(), now: NOW, mode: noSwitch, ...w };
}

/** A status as the reconcile of a running shared source on `pod` left it. */
function sharedReadyStatus(pod: string, generation = 1): SampleSourceStatus {
  return planReconcile(shared({}, generation), world({ pool: running(pod, generation) }), options).status!;
}

describe('planReconcile: shared sources (table)', () => {
  interface Row {
    name: string;
    object: unknown;
    world: ObservedWorld;
    upsert?: Partial<SharedSource>;
    remove?: boolean;
    deleteDeployment?: boolean;
    deployment?: 'create' | 'update' | 'none';
    paused?: string;
    sendTo?: string[];
    conditions: Record<string, string>;
    events: string[];
    poolPod?: string;
    message?: [string, RegExp];
  }
  const rows: Row[] = [
    {
      name: 'new shared source: placed on the pool with its resolved sink, no Deployment, Deployed waits for a pool pod',
      object: shared({ interval: '5s', ceOverrides: { extensions: { team: 'blue' } } }),
      world: world({}),
      upsert: {
        key: KEY,
        uid: UID,
        generation: 1,
        interval: '5s',
        paused: false,
        sink: { uri: SINK_URI },
        ceExtensions: { team: 'blue' },
      },
      conditions: {
        Active: 'Unknown/AwaitingAdapters',
        ConfigApplied: 'Unknown/AwaitingAdapters',
        Deployed: 'Unknown/NoPoolPod',
        Ready: 'Unknown/NoPoolPod',
        SinkProvided: 'True',
      },
      events: [],
    },
    {
      name: 'a pool pod confirmed the generation: Ready, poolPod set, the same Events as a dedicated source',
      object: shared(),
      world: world({ pool: running('pool-0') }),
      upsert: { generation: 1 },
      conditions: READY,
      poolPod: 'pool-0',
      events: ['Normal AssignedToPool', 'Normal ConfigApplied', 'Normal Ready'],
    },
    {
      name: 'moved to another pool pod: one AssignedToPool Event naming both, nothing else repeated',
      object: shared({}, 1, sharedReadyStatus('pool-0')),
      world: world({ pool: running('pool-1') }),
      upsert: { generation: 1 },
      conditions: READY,
      poolPod: 'pool-1',
      events: ['Normal AssignedToPool'],
      message: ['AssignedToPool', /Moved from pool pod pool-0 to pool-1/],
    },
    {
      name: 'paused on a running source: the new generation goes to the pool, ConfigApplied Processing until confirmed',
      object: shared({ paused: true }, 2, sharedReadyStatus('pool-0')),
      world: world({ pool: running('pool-0', 1) }),
      upsert: { generation: 2, paused: true },
      conditions: {
        Active: 'True',
        ConfigApplied: 'Unknown/Processing',
        Deployed: 'True/AssignedToPool',
        Ready: 'Unknown/Processing',
        SinkProvided: 'True',
      },
      poolPod: 'pool-0',
      events: [],
    },
    {
      name: 'switched from dedicated: the Ready dedicated pods are paused first, nothing deleted, the pool waits',
      object: shared(),
      world: world({
        readyPods: ['a', 'b'],
        mode: { ...noSwitch, deploymentExists: true, dedicatedPods: 2, readyDedicatedPods: 2 },
        handover: handoverOf(1, ['a', 'b'], new Map()),
      }),
      sendTo: ['a', 'b'],
      conditions: {
        Active: 'Unknown/AwaitingAdapters',
        ConfigApplied: 'Unknown/AwaitingAdapters',
        Deployed: 'Unknown/NoPoolPod',
        Ready: 'Unknown/NoPoolPod',
        SinkProvided: 'True',
      },
      events: [],
    },
    {
      name: 'switched from dedicated, every pod paused: placed continuing after the highest sequence, Deployment deleted',
      object: shared(),
      world: world({
        readyPods: ['a', 'b'],
        mode: {
          ...noSwitch,
          deploymentExists: true,
          dedicatedPods: 2,
          readyDedicatedPods: 2,
          pausedDedicatedPods: 2,
        },
        handover: { paused: ['a', 'b'], toPause: [], failed: false, lastSequence: 41 },
      }),
      upsert: { generation: 1, sequenceFloor: 41 },
      deleteDeployment: true,
      conditions: {
        Active: 'Unknown/AwaitingAdapters',
        ConfigApplied: 'Unknown/AwaitingAdapters',
        Deployed: 'Unknown/NoPoolPod',
        Ready: 'Unknown/NoPoolPod',
        SinkProvided: 'True',
      },
      events: ['Normal DeploymentDeleted'],
    },
    {
      name: 'switched from dedicated, a pod not Ready (it cannot be paused): the Deployment is deleted first, the pool waits',
      object: shared(),
      world: world({
        readyPods: ['a'],
        mode: { ...noSwitch, deploymentExists: true, dedicatedPods: 2, readyDedicatedPods: 1 },
        handover: handoverOf(1, ['a'], new Map()),
      }),
      deleteDeployment: true,
      conditions: {
        Active: 'Unknown/AwaitingAdapters',
        ConfigApplied: 'Unknown/AwaitingAdapters',
        Deployed: 'Unknown/NoPoolPod',
        Ready: 'Unknown/NoPoolPod',
        SinkProvided: 'True',
      },
      events: ['Normal DeploymentDeleted'],
    },
    {
      name: 'Deployment gone, a dedicated pod still terminating: not placed yet (no two emitters)',
      object: shared(),
      world: world({ mode: { ...noSwitch, dedicatedPods: 1 } }),
      conditions: {
        Active: 'Unknown/AwaitingAdapters',
        ConfigApplied: 'Unknown/AwaitingAdapters',
        Deployed: 'Unknown/NoPoolPod',
        Ready: 'Unknown/NoPoolPod',
        SinkProvided: 'True',
      },
      events: [],
    },
    {
      name: 'the sink Service is missing: SinkProvided False, the pool keeps what it runs',
      object: shared(),
      world: world({ sinkLookup: { found: false }, pool: running('pool-0') }),
      conditions: {
        Active: 'True',
        ConfigApplied: 'True',
        Deployed: 'True/AssignedToPool',
        Ready: 'False/SinkNotFound',
        SinkProvided: 'False/SinkNotFound',
      },
      poolPod: 'pool-0',
      events: ['Normal AssignedToPool', 'Warning SinkNotFound', 'Normal ConfigApplied'],
    },
    {
      name: 'the pool pod refused the source: Deployed False RejectedByPool on this source alone',
      object: shared(),
      world: world({ pool: { phase: 'rejected', message: 'sink.uri: must be an absolute http(s) URL' } }),
      upsert: { generation: 1 },
      conditions: {
        Active: 'Unknown/AwaitingAdapters',
        ConfigApplied: 'Unknown/AwaitingAdapters',
        Deployed: 'False/RejectedByPool',
        Ready: 'False/RejectedByPool',
        SinkProvided: 'True',
      },
      events: ['Warning RejectedByPool'],
    },
    {
      name: 'a sink audience (OIDC) on a shared source: refused naming spec.sink.audience, taken off the pool',
      object: shared({
        sink: { ref: { apiVersion: 'v1', kind: 'Service', name: 'display' }, audience: 'aud' },
      }),
      world: world({ pool: running('pool-0') }),
      remove: true,
      conditions: { SinkProvided: 'False/InvalidSpec', Ready: 'False/InvalidSpec' },
      events: ['Warning InvalidSpec'],
      message: ['Ready', /spec\.sink\.audience/],
    },
    {
      name: 'switched back to dedicated while the pool runs it: Deployment created with its pods paused, nothing steered',
      object: dedicated({ replicas: 1 }),
      world: world({ mode: { ...noSwitch, inPool: true }, pool: running('pool-0') }),
      deployment: 'create',
      paused: 'true',
      sendTo: [],
      conditions: {
        Active: 'Unknown/AwaitingAdapters',
        ConfigApplied: 'Unknown/AwaitingAdapters',
        Deployed: 'Unknown/DeploymentMissing',
        Ready: 'Unknown/DeploymentMissing',
        SinkProvided: 'True',
      },
      events: ['Normal DeploymentCreated'],
    },
    {
      name: 'a dedicated pod is Ready while the pool still runs it: the pool releases it, the pod is not steered yet',
      object: dedicated({ replicas: 1 }),
      world: world({
        deployment: storedDeployment(
          validSource(dedicated({ replicas: 1, paused: true })),
          SINK_URI,
          options.adapter,
        ),
        readyPods: ['a'],
        mode: { ...noSwitch, deploymentExists: true, dedicatedPods: 1, readyDedicatedPods: 1, inPool: true },
        pool: running('pool-0'),
      }),
      remove: true,
      deployment: 'none',
      paused: 'true',
      sendTo: [],
      conditions: {
        Active: 'Unknown/AwaitingAdapters',
        ConfigApplied: 'Unknown/Processing',
        Deployed: 'True',
        Ready: 'Unknown/Processing',
        SinkProvided: 'True',
      },
      events: [],
    },
    {
      name: 'the pool let go: the dedicated pod is steered (unpaused) without a rollout',
      object: dedicated({ replicas: 1 }),
      world: world({
        deployment: storedDeployment(
          validSource(dedicated({ replicas: 1, paused: true })),
          SINK_URI,
          options.adapter,
        ),
        readyPods: ['a'],
        mode: { ...noSwitch, deploymentExists: true, dedicatedPods: 1, readyDedicatedPods: 1 },
      }),
      deployment: 'none',
      paused: 'true',
      sendTo: ['a'],
      conditions: {
        Active: 'Unknown/AwaitingAdapters',
        ConfigApplied: 'Unknown/Processing',
        Deployed: 'True',
        Ready: 'Unknown/Processing',
        SinkProvided: 'True',
      },
      events: [],
    },
  ];

  it.each(rows)('$name', (row) => {
    const plan = planReconcile(row.object, row.world, options);
    expect(plan.poolUpsert === undefined).toBe(row.upsert === undefined);
    if (row.upsert) expect(plan.poolUpsert).toMatchObject(row.upsert);
    expect(plan.poolRemove ?? false).toBe(row.remove ?? false);
    expect(plan.deleteDeployment ?? false).toBe(row.deleteDeployment ?? false);
    expect(plan.deployment?.action).toBe(row.deployment);
    if (row.paused !== undefined) {
      const env = plan.deployment!.deployment.spec!.template.spec!.containers[0]!.env!;
      expect(env.find((e) => e.name === 'SAMPLESOURCE_PAUSED')?.value).toBe(row.paused);
    }
    expect(plan.sendTo).toEqual(row.sendTo ?? []);
    expect(conditionsOf(plan.status)).toEqual(row.conditions);
    expect(plan.status?.mode).toBe(
      row.object === undefined ? undefined : (row.object as { spec: { mode: string } }).spec.mode,
    );
    expect(plan.status?.poolPod).toBe(row.poolPod);
    expect(plan.events.map((e) => `${e.type} ${e.reason}`)).toEqual(row.events);
    if (row.message) {
      const [type, pattern] = row.message;
      const text =
        plan.events.find((e) => e.reason === type)?.message ??
        plan.status?.conditions?.find((c) => c.type === type)?.message;
      expect(text).toMatch(pattern);
    }
  });

  it('a second pass over the Ready status it wrote changes nothing and records nothing', () => {
    const status = sharedReadyStatus('pool-0');
    const plan = planReconcile(shared({}, 1, status), world({ pool: running('pool-0') }), options);
    expect(plan.statusChanged).toBe(false);
    expect(plan.events).toEqual([]);
  });
});

class FakeSessions implements SessionsPort {
  readonly log: string[] = [];
  constructor(private readonly canned = new Map<string, PodReport>()) {}
  sync(sourceKey: string, _ns: string, _name: string, pods: readonly { name: string }[]): void {
    this.log.push(`sync ${sourceKey} [${pods.map((p) => p.name).join(',')}]`);
  }
  reports() {
    return this.canned;
  }
  send(
    _key: string,
    pod: string,
    state: { generation: unknown; paused: boolean; sequenceFloor?: number },
  ): void {
    this.log.push(
      `send ${pod} g${String(state.generation)}${state.paused ? ' paused' : ''}${state.sequenceFloor !== undefined ? ` from ${state.sequenceFloor}` : ''}`,
    );
  }
  forget(sourceKey: string): void {
    this.log.push(`forget ${sourceKey}`);
  }
}

describe('sampleSourceReconciler: shared mode (table)', () => {
  const SOURCE_PATH = resourcePath(SAMPLESOURCE_RESOURCE, NS, 'sample-source');
  const SERVICE_PATH = `/api/v1/namespaces/${NS}/services/display`;
  const SOURCE = validSource(sampleSourceObject());
  const SECRETS = `/api/v1/namespaces/${NS}/secrets`;
  const SECRET_PATH = `${SECRETS}/${certSecretName(SOURCE)}`;
  const DEPLOYMENTS = `/apis/apps/v1/namespaces/${NS}/deployments`;
  const DEPLOYMENT_PATH = `${DEPLOYMENTS}/${adapterDeploymentName(SOURCE)}`;
  let pki: OperatorPki;
  let certSecret: V1Secret;

  beforeAll(async () => {
    ({ pki, certSecret } = await testAdapterPki(SOURCE));
  });
  afterAll(() => pki.stop());

  const pod = (name: string, ready: boolean): V1Pod => adapterPod(name, ready, '10.0.0.9');

  interface Row {
    name: string;
    source?: object;
    deployment?: V1Deployment;
    secret?: boolean;
    pods?: V1Pod[];
    pool?: SharedSourceStatus;
    /** The dedicated pods' ApplyState reports. */
    reports?: Map<string, PodReport>;
    /** The pool's last sequence for the source (a switch back to dedicated). */
    floor?: number;
    requests: string[];
    poolLog: string[];
    sessions: string[];
    events: string[];
    conditions?: Record<string, string>;
    /** What the reconcile returns: nothing (no certificate to renew for a shared source) or a renewal pass. */
    result: 'nothing' | 'renewal';
  }
  const rows: Row[] = [
    {
      name: 'new shared source: no certificate, no Deployment; placed on the pool; status written',
      source: shared(),
      requests: [`GET ${SERVICE_PATH}`, `PATCH ${SOURCE_PATH}/status`],
      poolLog: [`upsert ${KEY} g1 10s`],
      sessions: [`forget ${KEY}`],
      events: [],
      conditions: {
        Active: 'Unknown/AwaitingAdapters',
        ConfigApplied: 'Unknown/AwaitingAdapters',
        Deployed: 'Unknown/NoPoolPod',
        Ready: 'Unknown/NoPoolPod',
        SinkProvided: 'True',
      },
      result: 'nothing',
    },
    {
      name: 'running on a pool pod: Ready with its Events, the upsert repeated (the pool sends only a new generation)',
      source: shared(),
      pool: running('pool-0'),
      requests: [`GET ${SERVICE_PATH}`, `PATCH ${SOURCE_PATH}/status`],
      poolLog: [`upsert ${KEY} g1 10s`],
      sessions: [`forget ${KEY}`],
      events: ['Normal AssignedToPool', 'Normal ConfigApplied', 'Normal Ready'],
      conditions: READY,
      result: 'nothing',
    },
    {
      name: 'switched from dedicated: its Ready pod is paused over its control stream, nothing deleted, not yet placed',
      source: shared(),
      deployment: storedDeployment(SOURCE, SINK_URI, options.adapter),
      secret: true,
      pods: [pod('a', true)],
      requests: [`GET ${SERVICE_PATH}`, `PATCH ${SOURCE_PATH}/status`],
      poolLog: [],
      sessions: [`sync ${KEY} [a]`, 'send a g1 paused'],
      events: [],
      result: 'nothing',
    },
    {
      name: 'switched from dedicated, the pod confirmed the pause: placed after its last sequence, Deployment and Secret deleted',
      source: shared(),
      deployment: storedDeployment(SOURCE, SINK_URI, options.adapter),
      secret: true,
      pods: [pod('a', true)],
      reports: new Map([['a', { generation: 1, state: 'succeeded', paused: true, lastSequence: 41 }]]),
      requests: [
        `GET ${SERVICE_PATH}`,
        `DELETE ${DEPLOYMENT_PATH}`,
        `DELETE ${SECRET_PATH}`,
        `PATCH ${SOURCE_PATH}/status`,
      ],
      poolLog: [`upsert ${KEY} g1 10s from 41`],
      sessions: [`sync ${KEY} [a]`],
      events: ['Normal DeploymentDeleted'],
      result: 'nothing',
    },
    {
      name: 'switched from dedicated, its pod not Ready (it cannot be paused): Deployment and Secret deleted first, not yet placed',
      source: shared(),
      deployment: storedDeployment(SOURCE, SINK_URI, options.adapter),
      secret: true,
      pods: [pod('a', false)],
      requests: [
        `GET ${SERVICE_PATH}`,
        `DELETE ${DEPLOYMENT_PATH}`,
        `DELETE ${SECRET_PATH}`,
        `PATCH ${SOURCE_PATH}/status`,
      ],
      poolLog: [],
      sessions: [`forget ${KEY}`],
      events: ['Normal DeploymentDeleted'],
      result: 'nothing',
    },
    {
      name: 'the last dedicated pod is terminating: still not placed',
      source: shared(),
      pods: [{ ...pod('a', false), metadata: { ...pod('a', false).metadata, deletionTimestamp: NOW } }],
      requests: [`GET ${SERVICE_PATH}`, `PATCH ${SOURCE_PATH}/status`],
      poolLog: [],
      sessions: [`forget ${KEY}`],
      events: [],
      result: 'nothing',
    },
    {
      name: 'switched back to dedicated, a pod Ready: the pool releases it, the pod is not steered yet',
      source: dedicated(),
      deployment: storedDeployment(validSource(dedicated({ paused: true })), SINK_URI, options.adapter),
      secret: true,
      pods: [pod('a', true)],
      pool: running('pool-0'),
      requests: [`GET ${SERVICE_PATH}`, `PATCH ${SOURCE_PATH}/status`],
      poolLog: [`remove ${KEY}`],
      sessions: [`sync ${KEY} [a]`],
      events: [],
      result: 'renewal',
    },
    {
      name: 'switched back to dedicated, the pool let go: the pod is steered, continuing after the pool’s last sequence',
      source: dedicated(),
      deployment: storedDeployment(validSource(dedicated({ paused: true })), SINK_URI, options.adapter),
      secret: true,
      pods: [pod('a', true)],
      floor: 57,
      requests: [`GET ${SERVICE_PATH}`, `PATCH ${SOURCE_PATH}/status`],
      poolLog: [],
      sessions: [`sync ${KEY} [a]`, 'send a g1 from 57'],
      events: [],
      result: 'renewal',
    },
    {
      name: 'deleted (gone from the cache): the pool lets it go, nothing read or written',
      requests: [],
      poolLog: [`remove ${KEY}`],
      sessions: [`forget ${KEY}`],
      events: [],
      result: 'nothing',
    },
  ];

  it.each(rows)('$name', async (row) => {
    const objects: Record<string, object> = { [SERVICE_PATH]: DISPLAY_SERVICE };
    if (row.source) objects[SOURCE_PATH] = row.source;
    if (row.deployment) objects[DEPLOYMENT_PATH] = row.deployment;
    if (row.secret) objects[SECRET_PATH] = certSecret;
    const client = new RecordingFakeClient(objects);
    const pool = new FakePool(new Map(row.pool ? [[KEY, row.pool]] : []));
    pool.floor = row.floor;
    const sessions = new FakeSessions(row.reports);
    const { reconcile, events } = fixtureReconciler({
      client,
      sources: cacheOf(row.source ? [row.source] : []),
      deployments: cacheOf(row.deployment ? [row.deployment] : []),
      pods: cacheOf(row.pods ?? []),
      secrets: cacheOf(row.secret ? [certSecret] : []),
      sessions,
      pool,
      pki,
      plan: options,
    });
    const result = await reconcile();
    expect(client.calls).toEqual(row.requests);
    expect(pool.log).toEqual(row.poolLog);
    expect(sessions.log).toEqual(row.sessions);
    expect(events).toEqual(row.events);
    if (row.conditions)
      expect(conditionsOf(client.get(SOURCE_PATH)?.status as SampleSourceStatus)).toEqual(row.conditions);
    if (row.result === 'nothing') expect(result).toBeUndefined();
    else expect((result as { requeueAfterMs: number }).requeueAfterMs).toBeGreaterThan(15 * 3_600_000);
  });
});
