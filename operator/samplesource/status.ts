// Status of a SampleSource from what the reconcile observed: Knative-style conditions with
// Ready as the happy condition over SinkProvided, Deployed and ConfigApplied, and Active as an
// informational (severity Info) condition outside that set.
import type { V1Deployment } from '@kubernetes/client-node';
import { HEARTBEAT_EVENT_TYPE, heartbeatSource } from '../../contract/cloudevents.js';
import { REASON_SUPERSEDED, type Generation } from '../../contract/commands.js';
import { ConditionSet, type Condition } from '../runtime/conditions.js';
import { deepEqual } from '../runtime/status.js';
import {
  describeSpecErrors,
  type SampleSource,
  type SampleSourceMeta,
  type SampleSourceStatus,
  type SpecError,
} from '../../contract/samplesource.js';
import { SinkReason, type SinkResult } from './sink.js';

/** Condition types. */
export const ConditionType = {
  Ready: 'Ready',
  SinkProvided: 'SinkProvided',
  Deployed: 'Deployed',
  ConfigApplied: 'ConfigApplied',
  Active: 'Active',
} as const;

/** The conditions Ready depends on, in the order their problems are reported. */
export const READY_DEPENDENTS = [
  ConditionType.SinkProvided,
  ConditionType.Deployed,
  ConditionType.ConfigApplied,
] as const;

/** Reasons this file sets (sink reasons live in sink.ts). */
export const Reason = {
  InvalidSpec: 'InvalidSpec',
  Processing: 'Processing',
  AwaitingAdapters: 'AwaitingAdapters',
  ApplyFailed: 'ApplyFailed',
  Paused: 'Paused',
  DeploymentMissing: 'DeploymentMissing',
  DeploymentUnavailable: 'DeploymentUnavailable',
  NotOwned: 'NotOwned',
} as const;

/** One ready adapter pod's last async result for an ApplyState command (from the notification store). */
export interface PodReport {
  /** Generation the command carried (int64). */
  generation: Generation;
  state: 'pending' | 'succeeded' | 'failed';
  reason?: string;
  message?: string;
  /** Digest of the sink the command carried (adapter-sink.ts sinkKey); absent when it carried none. */
  sinkKey?: string;
  /** The paused value the command carried (a dedicated → shared handover pauses the pods first). */
  paused?: boolean;
  /** Last heartbeat sequence the adapter reported with its result (succeeded only; older adapters omit it). */
  lastSequence?: number;
}

/** What the reconcile saw of the adapter Deployment. */
export type DeploymentObservation =
  | { state: 'missing' }
  | { state: 'notOwned'; message: string }
  | { state: 'observed'; deployment: V1Deployment }
  /** Shared mode: no Deployment; the pool placement decides Deployed (operator/samplesource/shared-mode.ts). */
  | { state: 'pooled'; condition: DesiredCondition };

/** Everything {@link computeStatus} needs. */
export interface StatusInput {
  source: SampleSource;
  sink: SinkResult;
  deployment: DeploymentObservation;
  /** Names of adapter pods that are Ready and have an IP (the ones the operator steers). */
  readyPods: readonly string[];
  /** Latest result per pod name; entries for other pods are ignored. */
  reports: ReadonlyMap<string, PodReport>;
  now: Date;
}

/** A condition as a reconcile wants it, before lastTransitionTime is settled. */
export type DesiredCondition = Omit<Condition, 'lastTransitionTime' | 'severity'>;
type Desired = DesiredCondition;

/** Ready over SinkProvided, Deployed and ConfigApplied; anything else (Active) is Info. */
export const SAMPLESOURCE_CONDITIONS = ConditionSet.living(...READY_DEPENDENTS);

/**
 * Applies `desired` conditions to a copy of `previous` through the runtime's condition manager:
 * an unchanged condition keeps its lastTransitionTime, Ready follows its dependents.
 */
export function applyConditions(
  previous: readonly Condition[] | undefined,
  desired: readonly Desired[],
  now: Date,
): Condition[] {
  const status: { conditions?: Condition[] } = { conditions: structuredClone([...(previous ?? [])]) };
  const manager = SAMPLESOURCE_CONDITIONS.manage(status, () => now);
  for (const want of desired) {
    if (want.status === 'True') manager.markTrueWithReason(want.type, want.reason, want.message);
    else if (want.status === 'False') manager.markFalse(want.type, want.reason ?? 'Failed', want.message);
    else manager.markUnknown(want.type, want.reason ?? 'Unknown', want.message);
  }
  return status.conditions ?? [];
}

function sinkCondition(sink: SinkResult): Desired {
  return sink.ok
    ? { type: ConditionType.SinkProvided, status: 'True' }
    : { type: ConditionType.SinkProvided, status: 'False', reason: sink.reason, message: sink.message };
}

/** Deployed follows the Deployment's Available condition, as Knative's PropagateDeploymentAvailability. */
export function deployedCondition(observation: DeploymentObservation): Desired {
  const type = ConditionType.Deployed;
  if (observation.state === 'missing')
    return {
      type,
      status: 'Unknown',
      reason: Reason.DeploymentMissing,
      message: 'the adapter Deployment does not exist yet',
    };
  if (observation.state === 'notOwned')
    return { type, status: 'False', reason: Reason.NotOwned, message: observation.message };
  if (observation.state === 'pooled') return { ...observation.condition, type };
  const d = observation.deployment;
  const name = d.metadata?.name ?? '';
  const conditions = d.status?.conditions ?? [];
  const progressing = conditions.find((c) => c.type === 'Progressing');
  if (progressing?.status === 'False') {
    return {
      type,
      status: 'False',
      reason: progressing.reason ?? Reason.DeploymentUnavailable,
      message: progressing.message ?? `Deployment ${name} is not progressing`,
    };
  }
  // Until the Deployment controller has seen the current spec, its Available says nothing about it.
  const observedGeneration = d.status?.observedGeneration ?? 0;
  if (observedGeneration < (d.metadata?.generation ?? 0)) {
    return {
      type,
      status: 'Unknown',
      reason: Reason.DeploymentUnavailable,
      message: `Deployment ${name} is rolling out`,
    };
  }
  const available = conditions.find((c) => c.type === 'Available');
  if (!available)
    return {
      type,
      status: 'Unknown',
      reason: Reason.DeploymentUnavailable,
      message: `The Deployment '${name}' is unavailable.`,
    };
  if (available.status === 'True') return { type, status: 'True' };
  return {
    type,
    status: available.status === 'False' ? 'False' : 'Unknown',
    reason: available.reason ?? Reason.DeploymentUnavailable,
    message: available.message ?? `The Deployment '${name}' is unavailable.`,
  };
}

/** ConfigApplied: True once every ready pod reported the current generation applied. */
export function configAppliedCondition(
  generation: number,
  readyPods: readonly string[],
  reports: ReadonlyMap<string, PodReport>,
): Desired {
  const type = ConditionType.ConfigApplied;
  if (readyPods.length === 0) {
    return {
      type,
      status: 'Unknown',
      reason: Reason.AwaitingAdapters,
      message: 'no adapter pod is ready yet',
    };
  }
  const pods = [...readyPods].sort();
  const failed = pods.filter((p) => {
    const r = reports.get(p);
    // Superseded means the pod already runs a newer generation than we saw: our cache is behind, not a failure.
    return r?.generation === generation && r.state === 'failed' && r.reason !== REASON_SUPERSEDED;
  });
  if (failed.length > 0) {
    const first = reports.get(failed[0]!)!;
    const more =
      failed.length > 1 ? ` (and ${failed.length - 1} more pod${failed.length > 2 ? 's' : ''})` : '';
    return {
      type,
      status: 'False',
      reason: first.reason ?? Reason.ApplyFailed,
      message: `pod ${failed[0]}: ${first.message ?? 'applying the configuration failed'}${more}`,
    };
  }
  const applied = pods.filter((p) => {
    const r = reports.get(p);
    return r?.generation === generation && r.state === 'succeeded';
  }).length;
  if (applied < pods.length) {
    return {
      type,
      status: 'Unknown',
      reason: Reason.Processing,
      message: `generation ${generation} applied by ${applied} of ${pods.length} ready adapter pods`,
    };
  }
  return { type, status: 'True' };
}

function activeCondition(paused: boolean | undefined): Desired {
  // Not a Ready dependent, so the condition set gives it severity Info.
  const base = { type: ConditionType.Active };
  if (paused === undefined)
    return {
      ...base,
      status: 'Unknown',
      reason: Reason.AwaitingAdapters,
      message: 'no adapter has applied a configuration yet',
    };
  if (paused)
    return {
      ...base,
      status: 'False',
      reason: Reason.Paused,
      message: 'heartbeats are paused (spec.paused is true)',
    };
  return { ...base, status: 'True' };
}

/**
 * The status for a valid source and what the reconcile observed. Pure: the same input gives
 * the same status, and conditions that did not change keep their lastTransitionTime.
 */
export function computeStatus(input: StatusInput): SampleSourceStatus {
  const { source, now } = input;
  const previous = source.status ?? {};
  const generation = source.metadata.generation;
  const sink = sinkCondition(input.sink);
  const deployed = deployedCondition(input.deployment);
  const config = configAppliedCondition(generation, input.readyPods, input.reports);
  // The applied values move only when every ready pod applied the current generation.
  const appliedInterval = config.status === 'True' ? source.spec.interval : previous.appliedInterval;
  const paused = config.status === 'True' ? source.spec.paused : previous.paused;
  // Marked last-dependent first, so that when several fail Ready names the most basic problem.
  const conditions = applyConditions(
    previous.conditions,
    [activeCondition(paused), config, deployed, sink],
    now,
  );
  const status: SampleSourceStatus = {
    observedGeneration: generation,
    conditions,
    ceAttributes: [
      {
        type: HEARTBEAT_EVENT_TYPE,
        source: heartbeatSource(source.metadata.namespace, source.metadata.name),
      },
    ],
    readyReplicas: input.readyPods.length,
  };
  if (previous.annotations) status.annotations = previous.annotations;
  // Knative clears sinkUri when the sink cannot be resolved, so nobody reads a stale address.
  if (input.sink.ok) status.sinkUri = input.sink.uri;
  if (input.sink.ok && input.sink.caCerts !== undefined) status.sinkCACerts = input.sink.caCerts;
  if (input.sink.ok && input.sink.audience !== undefined) status.sinkAudience = input.sink.audience;
  if (appliedInterval !== undefined) status.appliedInterval = appliedInterval;
  if (paused !== undefined) status.paused = paused;
  return status;
}

/**
 * The status of a source whose spec failed validation: each blocked area's condition False
 * with reason InvalidSpec (SinkMissing for an absent sink), Ready False; the rest kept.
 */
export function invalidSpecStatus(
  metadata: SampleSourceMeta,
  previous: SampleSourceStatus | undefined,
  errors: readonly SpecError[],
  now: Date,
): SampleSourceStatus {
  const desired: Desired[] = [];
  const areas: Array<[SpecError['area'], string]> = [
    ['sink', ConditionType.SinkProvided],
    ['deployment', ConditionType.Deployed],
    ['config', ConditionType.ConfigApplied],
  ];
  for (const [area, type] of areas) {
    const mine = errors.filter((e) => e.area === area);
    if (mine.length === 0) continue;
    const sinkAbsent =
      area === 'sink' && mine.some((e) => e.path === 'spec.sink' && e.message === 'required');
    desired.push({
      type,
      status: 'False',
      reason: sinkAbsent ? SinkReason.Missing : Reason.InvalidSpec,
      message: describeSpecErrors(mine),
    });
  }
  // Ready last: it names every problem, not only the last area marked.
  desired.push({
    type: ConditionType.Ready,
    status: 'False',
    reason: Reason.InvalidSpec,
    message: describeSpecErrors(errors),
  });
  const status: SampleSourceStatus = {
    ...previous,
    observedGeneration: metadata.generation,
    conditions: applyConditions(previous?.conditions, desired, now),
  };
  if (desired.some((d) => d.type === ConditionType.SinkProvided)) {
    delete status.sinkUri;
    delete status.sinkCACerts;
    delete status.sinkAudience;
  }
  return status;
}

/** True when two statuses differ in anything but key order (so an unchanged status is not written). */
export function statusChanged(a: SampleSourceStatus | undefined, b: SampleSourceStatus): boolean {
  return !deepEqual(a ?? {}, b);
}
