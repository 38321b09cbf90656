import type { SampleSource } from '../../contract/samplesource.js';
import { effectiveMode } from '../../contract/samplesource.js';
import { loadOperatorConfig } from '../config.js';
import { parsedSource } from './fixtures.js';
import type { SharedSourceStatus } from '../pool/pool-sessions.js';
import {
  computeSharedStatus,
  handoverOf,
  placedCondition,
  planMode,
  type Handover,
  type ModePlan,
  type ModeWorld,
} from './shared-mode.js';
import type { PodReport } from './status.js';

const NOW = new Date('2026-12-03T08:00:00Z');
const LATER = new Date('2026-12-03T08:05:00Z');
const SINK_URI = 'http://display.demo.svc.cluster.local';

function source(generation = 3, status?: SampleSource['status']): SampleSource {
  return parsedSource(generation, { interval: '5s', replicas: 1, mode: 'shared' }, status);
}

describe('effective mode', () => {
  test.each([
    [undefined, 'dedicated', 'dedicated'],
    [undefined, 'shared', 'shared'],
    ['dedicated', 'shared', 'dedicated'],
    ['shared', 'dedicated', 'shared'],
  ] as const)('spec.mode %s with operator default %s runs %s', (mode, def, want) => {
    expect(effectiveMode(mode === undefined ? {} : { mode }, def)).toBe(want);
  });

  test('DEFAULT_SOURCE_MODE defaults to dedicated and refuses other values', () => {
    expect(loadOperatorConfig({ ADAPTER_IMAGE: 'img' }).DEFAULT_SOURCE_MODE).toBe('dedicated');
    expect(
      loadOperatorConfig({ ADAPTER_IMAGE: 'img', DEFAULT_SOURCE_MODE: 'shared' }).DEFAULT_SOURCE_MODE,
    ).toBe('shared');
    expect(() => loadOperatorConfig({ ADAPTER_IMAGE: 'img', DEFAULT_SOURCE_MODE: 'pooled' })).toThrow(
      /DEFAULT_SOURCE_MODE/,
    );
  });
});

describe('placedCondition (Deployed in shared mode)', () => {
  test.each<[string, SharedSourceStatus | undefined, string, string]>([
    ['not in the pool', undefined, 'Unknown', 'NoPoolPod'],
    ['unplaced', { phase: 'unplaced' }, 'Unknown', 'NoPoolPod'],
    ['starting', { phase: 'starting', pod: 'pool-a' }, 'Unknown', 'Placing'],
    ['running', { phase: 'running', pod: 'pool-a' }, 'True', 'AssignedToPool'],
    ['releasing', { phase: 'releasing', pod: 'pool-a' }, 'Unknown', 'HandingOff'],
    ['orphaned', { phase: 'orphaned' }, 'Unknown', 'OwnerLost'],
    ['rejected', { phase: 'rejected', message: 'bad interval' }, 'False', 'RejectedByPool'],
  ])('%s', (_name, pool, status, reason) => {
    const c = placedCondition(pool);
    expect(c).toMatchObject({ type: 'Deployed', status, reason });
  });

  test('running names the pod, rejected carries the pod message', () => {
    expect(placedCondition({ phase: 'running', pod: 'pool-b' }).message).toContain('pool-b');
    expect(placedCondition({ phase: 'rejected', message: 'bad interval' }).message).toBe('bad interval');
  });
});

describe('computeSharedStatus', () => {
  const sink = { ok: true as const, uri: SINK_URI };
  const cond = (s: ReturnType<typeof computeSharedStatus>, type: string) =>
    s.conditions?.find((c) => c.type === type);

  test('running with the current generation applied: Ready, mode and pool pod shown', () => {
    const s = computeSharedStatus({
      source: source(3),
      sink,
      pool: { phase: 'running', pod: 'pool-a', appliedGeneration: 3 },
      now: NOW,
    });
    expect(s.mode).toBe('shared');
    expect(s.poolPod).toBe('pool-a');
    expect(s.readyReplicas).toBe(1);
    expect(s.appliedInterval).toBe('5s');
    expect(cond(s, 'Ready')?.status).toBe('True');
    expect(cond(s, 'Deployed')?.reason).toBe('AssignedToPool');
    expect(cond(s, 'ConfigApplied')?.status).toBe('True');
    expect(cond(s, 'Active')?.status).toBe('True');
  });

  test('an older generation applied: ConfigApplied Processing, applied interval kept', () => {
    const first = computeSharedStatus({
      source: source(3),
      sink,
      pool: { phase: 'running', pod: 'pool-a', appliedGeneration: 3 },
      now: NOW,
    });
    const next = computeSharedStatus({
      source: { ...source(4, first), spec: { ...source().spec, interval: '7s' } },
      sink,
      pool: { phase: 'running', pod: 'pool-a', appliedGeneration: 3 },
      now: LATER,
    });
    expect(cond(next, 'ConfigApplied')).toMatchObject({ status: 'Unknown', reason: 'Processing' });
    expect(next.appliedInterval).toBe('5s');
    // Deployed did not change, so its transition time stays.
    expect(cond(next, 'Deployed')?.lastTransitionTime).toBe(cond(first, 'Deployed')?.lastTransitionTime);
  });

  test('not placed: not Ready, no pool pod', () => {
    const s = computeSharedStatus({ source: source(3), sink, pool: undefined, now: NOW });
    expect(s.poolPod).toBeUndefined();
    expect(s.readyReplicas).toBe(0);
    expect(cond(s, 'Ready')?.status).toBe('Unknown');
    expect(cond(s, 'Deployed')?.reason).toBe('NoPoolPod');
  });

  test('rejected by the pool: Ready False naming the pool', () => {
    const s = computeSharedStatus({
      source: source(3),
      sink,
      pool: { phase: 'rejected', message: 'no' },
      now: NOW,
    });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False' });
    expect(cond(s, 'Deployed')).toMatchObject({ status: 'False', reason: 'RejectedByPool' });
  });
});

describe('planMode (live switch, no double emission)', () => {
  const w = (o: Partial<ModeWorld>): ModeWorld => ({
    deploymentExists: false,
    dedicatedPods: 0,
    readyDedicatedPods: 0,
    inPool: false,
    ...o,
  });
  const none: ModePlan = {
    applyDeployment: false,
    deleteDeployment: false,
    upsertToPool: false,
    removeFromPool: false,
    startPaused: false,
    steerDedicated: false,
    pauseDedicated: false,
  };
  test.each<[string, 'dedicated' | 'shared', ModeWorld, Partial<ModePlan>]>([
    ['new shared source goes to the pool', 'shared', w({}), { upsertToPool: true }],
    [
      'dedicated → shared: the Ready dedicated pods are paused first, the Deployment kept',
      'shared',
      w({ deploymentExists: true, dedicatedPods: 2, readyDedicatedPods: 2, pausedDedicatedPods: 1 }),
      { pauseDedicated: true },
    ],
    [
      'dedicated → shared: every pod confirmed paused: placed on the pool and the Deployment deleted',
      'shared',
      w({ deploymentExists: true, dedicatedPods: 2, readyDedicatedPods: 2, pausedDedicatedPods: 2 }),
      { upsertToPool: true, deleteDeployment: true },
    ],
    [
      'dedicated → shared: a pod not Ready cannot be paused: Deployment deleted first, not yet on the pool',
      'shared',
      w({ deploymentExists: true, dedicatedPods: 2, readyDedicatedPods: 1 }),
      { deleteDeployment: true },
    ],
    [
      'dedicated → shared: a pause failed: Deployment deleted first, not yet on the pool',
      'shared',
      w({ deploymentExists: true, dedicatedPods: 1, readyDedicatedPods: 1, pauseFailed: true }),
      { deleteDeployment: true },
    ],
    [
      'dedicated → shared: placed, the paused pods terminating: stays on the pool',
      'shared',
      w({ dedicatedPods: 1, inPool: true }),
      { upsertToPool: true },
    ],
    ['dedicated → shared: pods still terminating, wait', 'shared', w({ dedicatedPods: 1 }), {}],
    ['dedicated → shared: pods gone, placed on the pool', 'shared', w({}), { upsertToPool: true }],
    ['shared source in the pool stays there', 'shared', w({ inPool: true }), { upsertToPool: true }],
    ['new dedicated source', 'dedicated', w({}), { applyDeployment: true, steerDedicated: true }],
    [
      'shared → dedicated: Deployment applied, pool keeps it until a dedicated pod is Ready',
      'dedicated',
      w({ inPool: true, deploymentExists: true, dedicatedPods: 1 }),
      { applyDeployment: true, startPaused: true },
    ],
    [
      'shared → dedicated: dedicated pod Ready, released from the pool, not yet steered',
      'dedicated',
      w({ inPool: true, deploymentExists: true, dedicatedPods: 1, readyDedicatedPods: 1 }),
      { applyDeployment: true, startPaused: true, removeFromPool: true },
    ],
    [
      'shared → dedicated: pool let go, dedicated pods steered',
      'dedicated',
      w({ deploymentExists: true, dedicatedPods: 1, readyDedicatedPods: 1 }),
      { applyDeployment: true, steerDedicated: true },
    ],
  ])('%s', (_name, mode, world, want) => {
    expect(planMode(mode, world)).toEqual({ ...none, ...want });
  });
});

describe('handoverOf (dedicated → shared: pause, then the pool continues after the highest sequence)', () => {
  const pause = (state: PodReport['state'], o: Partial<PodReport> = {}): PodReport => ({
    generation: 3,
    state,
    paused: true,
    ...o,
  });
  test.each<[string, Record<string, PodReport>, Partial<Handover>]>([
    ['nothing sent yet: pause both', {}, { toPause: ['a', 'b'] }],
    [
      'an unpause of this generation, or a pause of an older one: pause again',
      { a: pause('succeeded', { paused: false, lastSequence: 4 }), b: pause('succeeded', { generation: 2 }) },
      { toPause: ['a', 'b'] },
    ],
    ['pauses in flight: wait, nothing sent twice', { a: pause('pending'), b: pause('pending') }, {}],
    [
      'both paused: the highest last sequence',
      { a: pause('succeeded', { lastSequence: 7 }), b: pause('succeeded', { lastSequence: 9 }) },
      { paused: ['a', 'b'], lastSequence: 9 },
    ],
    [
      'a pause failed: fall back',
      { a: pause('failed'), b: pause('succeeded', { lastSequence: 2 }) },
      { paused: ['b'], failed: true, lastSequence: 2 },
    ],
    [
      'an adapter that reports no sequence cannot hand over exactly: fall back',
      { a: pause('succeeded'), b: pause('pending') },
      { failed: true },
    ],
    [
      'a bigint generation compares by value',
      {
        a: pause('succeeded', { generation: 3n, lastSequence: 1 }),
        b: pause('succeeded', { lastSequence: 0 }),
      },
      { paused: ['a', 'b'], lastSequence: 1 },
    ],
  ])('%s', (_name, reports, want) => {
    expect(handoverOf(3, ['b', 'a'], new Map(Object.entries(reports)))).toEqual({
      paused: [],
      toPause: [],
      failed: false,
      lastSequence: 0,
      ...want,
    });
  });
});
