import type { V1Deployment } from '@kubernetes/client-node';
import type { Condition } from '../runtime/conditions.js';
import type { SampleSource, SpecError } from '../../contract/samplesource.js';
import { parsedSource } from './fixtures.js';
import { SinkReason, type SinkResult } from './sink.js';
import {
  computeStatus,
  configAppliedCondition,
  deployedCondition,
  invalidSpecStatus,
  statusChanged,
  type DeploymentObservation,
  type PodReport,
} from './status.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const LATER = new Date('2026-11-25T12:05:00Z');
const SINK_URI = 'http://display.demo.svc.cluster.local';
const okSink: SinkResult = { ok: true, uri: SINK_URI };

const source = parsedSource;

function deployment(
  opts: { available?: 'True' | 'False' | 'Unknown'; progressing?: 'True' | 'False'; stale?: boolean } = {},
): DeploymentObservation {
  const conditions: NonNullable<V1Deployment['status']>['conditions'] = [];
  if (opts.available)
    conditions.push({
      type: 'Available',
      status: opts.available,
      reason: opts.available === 'True' ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
      message: 'Deployment does not have minimum availability.',
    });
  if (opts.progressing)
    conditions.push({
      type: 'Progressing',
      status: opts.progressing,
      reason: opts.progressing === 'False' ? 'ProgressDeadlineExceeded' : 'NewReplicaSetAvailable',
      message: 'ReplicaSet "x" has timed out progressing.',
    });
  return {
    state: 'observed',
    deployment: {
      metadata: { name: 'adapter', generation: 3 },
      status: { observedGeneration: opts.stale ? 2 : 3, conditions },
    },
  };
}

const ok = (generation: number): PodReport => ({ generation, state: 'succeeded' });
const reports = (entries: Record<string, PodReport>) => new Map(Object.entries(entries));
type Brief = Pick<Condition, 'type' | 'status' | 'reason' | 'severity'>;
const brief = (conditions: Condition[] | undefined): Brief[] =>
  (conditions ?? []).map(({ type, status, reason, severity }) => ({
    type,
    status,
    ...(reason ? { reason } : {}),
    ...(severity ? { severity } : {}),
  }));

describe('computeStatus', () => {
  const cases: Array<{
    name: string;
    source?: SampleSource;
    sink?: SinkResult;
    deployment?: DeploymentObservation;
    readyPods?: string[];
    reports?: Map<string, PodReport>;
    want: Brief[];
    applied?: { appliedInterval?: string; paused?: boolean };
  }> = [
    {
      name: 'all applied: Ready',
      deployment: deployment({ available: 'True' }),
      readyPods: ['a', 'b'],
      reports: reports({ a: ok(2), b: ok(2) }),
      want: [
        { type: 'Active', status: 'True', severity: 'Info' },
        { type: 'ConfigApplied', status: 'True' },
        { type: 'Deployed', status: 'True' },
        { type: 'Ready', status: 'True' },
        { type: 'SinkProvided', status: 'True' },
      ],
      applied: { appliedInterval: '10s', paused: false },
    },
    {
      name: 'paused and applied: Ready, Active False Paused',
      source: source(2, { paused: true }),
      deployment: deployment({ available: 'True' }),
      readyPods: ['a'],
      reports: reports({ a: ok(2) }),
      want: [
        { type: 'Active', status: 'False', reason: 'Paused', severity: 'Info' },
        { type: 'ConfigApplied', status: 'True' },
        { type: 'Deployed', status: 'True' },
        { type: 'Ready', status: 'True' },
        { type: 'SinkProvided', status: 'True' },
      ],
      applied: { appliedInterval: '10s', paused: true },
    },
    {
      name: 'one pod still on the old generation: Processing, applied values kept',
      source: source(3, { interval: '2s' }, { appliedInterval: '10s', paused: false }),
      deployment: deployment({ available: 'True' }),
      readyPods: ['a', 'b'],
      reports: reports({ a: ok(3), b: ok(2) }),
      want: [
        { type: 'Active', status: 'True', severity: 'Info' },
        { type: 'ConfigApplied', status: 'Unknown', reason: 'Processing' },
        { type: 'Deployed', status: 'True' },
        { type: 'Ready', status: 'Unknown', reason: 'Processing' },
        { type: 'SinkProvided', status: 'True' },
      ],
      applied: { appliedInterval: '10s', paused: false },
    },
    {
      name: 'command in flight (pending) counts as processing',
      deployment: deployment({ available: 'True' }),
      readyPods: ['a'],
      reports: reports({ a: { generation: 2, state: 'pending' } }),
      want: [
        { type: 'Active', status: 'Unknown', reason: 'AwaitingAdapters', severity: 'Info' },
        { type: 'ConfigApplied', status: 'Unknown', reason: 'Processing' },
        { type: 'Deployed', status: 'True' },
        { type: 'Ready', status: 'Unknown', reason: 'Processing' },
        { type: 'SinkProvided', status: 'True' },
      ],
    },
    {
      name: 'a pod failed to apply: ConfigApplied False with its reason',
      deployment: deployment({ available: 'True' }),
      readyPods: ['a', 'b'],
      reports: reports({
        a: ok(2),
        b: { generation: 2, state: 'failed', reason: 'InvalidArgument', message: 'interval too small' },
      }),
      want: [
        { type: 'Active', status: 'Unknown', reason: 'AwaitingAdapters', severity: 'Info' },
        { type: 'ConfigApplied', status: 'False', reason: 'InvalidArgument' },
        { type: 'Deployed', status: 'True' },
        { type: 'Ready', status: 'False', reason: 'InvalidArgument' },
        { type: 'SinkProvided', status: 'True' },
      ],
    },
    {
      name: 'no sink: SinkProvided False wins Ready over everything else',
      sink: { ok: false, reason: SinkReason.NotFound, message: 'Service demo/display (v1) does not exist' },
      deployment: deployment({ available: 'False' }),
      readyPods: [],
      want: [
        { type: 'Active', status: 'Unknown', reason: 'AwaitingAdapters', severity: 'Info' },
        { type: 'ConfigApplied', status: 'Unknown', reason: 'AwaitingAdapters' },
        { type: 'Deployed', status: 'False', reason: 'MinimumReplicasUnavailable' },
        { type: 'Ready', status: 'False', reason: 'SinkNotFound' },
        { type: 'SinkProvided', status: 'False', reason: 'SinkNotFound' },
      ],
    },
    {
      name: 'Deployment missing: Deployed Unknown',
      deployment: { state: 'missing' },
      want: [
        { type: 'Active', status: 'Unknown', reason: 'AwaitingAdapters', severity: 'Info' },
        { type: 'ConfigApplied', status: 'Unknown', reason: 'AwaitingAdapters' },
        { type: 'Deployed', status: 'Unknown', reason: 'DeploymentMissing' },
        { type: 'Ready', status: 'Unknown', reason: 'DeploymentMissing' },
        { type: 'SinkProvided', status: 'True' },
      ],
    },
    {
      name: 'Deployment owned by someone else: Deployed False NotOwned',
      deployment: {
        state: 'notOwned',
        message: 'Deployment adapter exists and is not controlled by this SampleSource',
      },
      want: [
        { type: 'Active', status: 'Unknown', reason: 'AwaitingAdapters', severity: 'Info' },
        { type: 'ConfigApplied', status: 'Unknown', reason: 'AwaitingAdapters' },
        { type: 'Deployed', status: 'False', reason: 'NotOwned' },
        { type: 'Ready', status: 'False', reason: 'NotOwned' },
        { type: 'SinkProvided', status: 'True' },
      ],
    },
  ];
  it.each(cases)('$name', (c) => {
    const status = computeStatus({
      source: c.source ?? source(),
      sink: c.sink ?? okSink,
      deployment: c.deployment ?? deployment({ available: 'True' }),
      readyPods: c.readyPods ?? [],
      reports: c.reports ?? new Map(),
      now: NOW,
    });
    expect(brief(status.conditions)).toEqual(c.want);
    expect(status.observedGeneration).toBe((c.source ?? source()).metadata.generation);
    expect(status.readyReplicas).toBe((c.readyPods ?? []).length);
    expect(status.ceAttributes).toEqual([
      { type: 'dev.knative.sample', source: '/apis/v1/namespaces/demo/samplesources/sample-source' },
    ]);
    expect(status.sinkUri).toBe((c.sink ?? okSink).ok ? SINK_URI : undefined);
    expect({ appliedInterval: status.appliedInterval, paused: status.paused }).toEqual({
      appliedInterval: undefined,
      paused: undefined,
      ...c.applied,
    });
    for (const cond of status.conditions!) expect(cond.lastTransitionTime).toBe('2026-11-25T12:00:00Z');
  });

  it('keeps lastTransitionTime of conditions that did not change, and reports no change', () => {
    const input = {
      sink: okSink,
      deployment: deployment({ available: 'True' }),
      readyPods: ['a'],
      reports: reports({ a: ok(2) }),
    };
    const first = computeStatus({ ...input, source: source(), now: NOW });
    const second = computeStatus({ ...input, source: source(2, {}, first), now: LATER });
    expect(second).toEqual(first);
    expect(statusChanged(first, second)).toBe(false);
  });

  it('moves lastTransitionTime only for conditions that changed', () => {
    const input = { sink: okSink, deployment: deployment({ available: 'True' }), readyPods: ['a'], now: NOW };
    const first = computeStatus({ ...input, source: source(), reports: reports({ a: ok(2) }) });
    const next = computeStatus({
      ...input,
      source: source(3, {}, first),
      reports: reports({ a: ok(2) }),
      now: LATER,
    });
    const times = Object.fromEntries(next.conditions!.map((c) => [c.type, c.lastTransitionTime]));
    expect(times).toEqual({
      Active: '2026-11-25T12:00:00Z',
      ConfigApplied: '2026-11-25T12:05:00Z',
      Deployed: '2026-11-25T12:00:00Z',
      Ready: '2026-11-25T12:05:00Z',
      SinkProvided: '2026-11-25T12:00:00Z',
    });
    expect(statusChanged(first, next)).toBe(true);
  });

  it('drops a stale sinkUri once the sink cannot be resolved', () => {
    const status = computeStatus({
      source: source(2, {}, { sinkUri: 'http://old/' }),
      sink: { ok: false, reason: SinkReason.Missing, message: 'x' },
      deployment: { state: 'missing' },
      readyPods: [],
      reports: new Map(),
      now: NOW,
    });
    expect(status.sinkUri).toBeUndefined();
  });

  it('shows the resolved OIDC audience as sinkAudience, and drops it with the sink', () => {
    const base = {
      deployment: { state: 'missing' } as const,
      readyPods: [],
      reports: new Map(),
      now: NOW,
    };
    const withAudience = computeStatus({
      ...base,
      source: source(2),
      sink: { ok: true, uri: 'http://sink/', audience: 'https://sink/aud' },
    });
    expect(withAudience.sinkAudience).toBe('https://sink/aud');
    const without = computeStatus({ ...base, source: source(2), sink: { ok: true, uri: 'http://sink/' } });
    expect(without).not.toHaveProperty('sinkAudience');
    const unresolved = computeStatus({
      ...base,
      source: source(3, {}, { sinkUri: 'http://sink/', sinkAudience: 'https://sink/aud' }),
      sink: { ok: false, reason: SinkReason.NotFound, message: 'gone' },
    });
    expect(unresolved).not.toHaveProperty('sinkAudience');
  });
});

describe('deployedCondition', () => {
  it.each([
    {
      name: 'available',
      obs: deployment({ available: 'True', progressing: 'True' }),
      want: { status: 'True' },
    },
    {
      name: 'unavailable',
      obs: deployment({ available: 'False' }),
      want: { status: 'False', reason: 'MinimumReplicasUnavailable' },
    },
    {
      name: 'availability unknown',
      obs: deployment({ available: 'Unknown' }),
      want: { status: 'Unknown', reason: 'MinimumReplicasUnavailable' },
    },
    {
      name: 'no Available condition yet',
      obs: deployment(),
      want: {
        status: 'Unknown',
        reason: 'DeploymentUnavailable',
        message: "The Deployment 'adapter' is unavailable.",
      },
    },
    {
      name: 'progress deadline exceeded',
      obs: deployment({ available: 'True', progressing: 'False' }),
      want: { status: 'False', reason: 'ProgressDeadlineExceeded' },
    },
    {
      name: 'spec not yet observed by the Deployment controller',
      obs: deployment({ available: 'True', stale: true }),
      want: {
        status: 'Unknown',
        reason: 'DeploymentUnavailable',
        message: 'Deployment adapter is rolling out',
      },
    },
  ])('$name', ({ obs, want }) => {
    expect(deployedCondition(obs)).toMatchObject({ type: 'Deployed', ...want });
  });
});

describe('configAppliedCondition', () => {
  it.each([
    { name: 'no ready pods', pods: [], reports: {}, want: { status: 'Unknown', reason: 'AwaitingAdapters' } },
    {
      name: 'no report yet',
      pods: ['a'],
      reports: {},
      want: {
        status: 'Unknown',
        reason: 'Processing',
        message: 'generation 5 applied by 0 of 1 ready adapter pods',
      },
    },
    { name: 'all current', pods: ['a', 'b'], reports: { a: ok(5), b: ok(5) }, want: { status: 'True' } },
    {
      name: 'reports of pods that are not ready are ignored',
      pods: ['a'],
      reports: { a: ok(5), z: { generation: 5, state: 'failed', reason: 'X' } },
      want: { status: 'True' },
    },
    {
      name: 'an old failure does not count against the new generation',
      pods: ['a'],
      reports: { a: { generation: 4, state: 'failed', reason: 'Boom' } },
      want: { status: 'Unknown', reason: 'Processing' },
    },
    {
      name: 'superseded (our cache is behind the pod) is processing, not failure',
      pods: ['a'],
      reports: {
        a: { generation: 5, state: 'failed', reason: 'Superseded', message: 'generation 6 already applied' },
      },
      want: { status: 'Unknown', reason: 'Processing' },
    },
    {
      name: 'several failures name the first pod and count the rest',
      pods: ['c', 'b', 'a'],
      reports: {
        a: { generation: 5, state: 'failed', reason: 'Boom', message: 'x' },
        b: { generation: 5, state: 'failed' },
        c: { generation: 5, state: 'failed' },
      },
      want: { status: 'False', reason: 'Boom', message: 'pod a: x (and 2 more pods)' },
    },
    {
      name: 'a failure without reason or message',
      pods: ['a'],
      reports: { a: { generation: 5, state: 'failed' } },
      want: { status: 'False', reason: 'ApplyFailed', message: 'pod a: applying the configuration failed' },
    },
  ])('$name', ({ pods, reports: r, want }) => {
    expect(configAppliedCondition(5, pods, reports(r as Record<string, PodReport>))).toMatchObject({
      type: 'ConfigApplied',
      ...want,
    });
  });
});

describe('invalidSpecStatus', () => {
  const metadata = { name: 'sample-source', namespace: 'demo', uid: 'uid-1', generation: 4 };
  it.each([
    {
      name: 'missing sink',
      errors: [{ path: 'spec.sink', message: 'required', area: 'sink' }] as SpecError[],
      want: [
        { type: 'Ready', status: 'False', reason: 'InvalidSpec' },
        { type: 'SinkProvided', status: 'False', reason: 'SinkMissing' },
      ],
    },
    {
      name: 'bad interval and replicas',
      errors: [
        { path: 'spec.interval', message: 'too small', area: 'config' },
        { path: 'spec.replicas', message: 'too big', area: 'deployment' },
      ] as SpecError[],
      want: [
        { type: 'ConfigApplied', status: 'False', reason: 'InvalidSpec' },
        { type: 'Deployed', status: 'False', reason: 'InvalidSpec' },
        { type: 'Ready', status: 'False', reason: 'InvalidSpec' },
      ],
    },
    {
      name: 'bad sink uri',
      errors: [{ path: 'spec.sink.uri', message: 'must be absolute', area: 'sink' }] as SpecError[],
      want: [
        { type: 'Ready', status: 'False', reason: 'InvalidSpec' },
        { type: 'SinkProvided', status: 'False', reason: 'InvalidSpec' },
      ],
    },
  ])('$name', ({ errors, want }) => {
    const status = invalidSpecStatus(
      metadata,
      { sinkUri: 'http://old/', appliedInterval: '10s' },
      errors,
      NOW,
    );
    expect(brief(status.conditions)).toEqual(want);
    expect(status.observedGeneration).toBe(4);
    expect(status.appliedInterval).toBe('10s');
    const ready = status.conditions!.find((c) => c.type === 'Ready')!;
    expect(ready.message).toBe(errors.map((e) => `${e.path}: ${e.message}`).join('; '));
    expect(status.sinkUri).toBe(errors.some((e) => e.area === 'sink') ? undefined : 'http://old/');
  });
});
