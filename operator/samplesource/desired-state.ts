// One reconcile as a pure function: from the SampleSource as read and the world the reconcile
// observed, to what must change (the adapter Deployment), the state every adapter pod must
// run, the new status and the events to record. The live controller performs the plan.
import type { V1Deployment } from '@kubernetes/client-node';
import type { AdapterState, ApplyStatePayload, Generation } from '../../contract/commands.js';
import {
  DEFAULT_SOURCE_MODE,
  effectiveMode,
  parseSampleSource,
  type SampleSource,
  type SampleSourceStatus,
  type SourceMode,
} from '../../contract/samplesource.js';
import {
  buildAdapterDeployment,
  planDeployment,
  type AdapterOptions,
  type DeploymentAction,
} from './resources.js';
import { sharedModeUnavailable } from './shared-mode.js';
import { adapterSinkOf, sinkKey } from './adapter-sink.js';
import { applySinkHealth } from './sink-health.js';
import { resolveSink, type ResolveSinkOptions, type SinkLookup, type SinkResult } from './sink.js';
import {
  ConditionType,
  computeStatus,
  invalidSpecStatus,
  statusChanged,
  type DeploymentObservation,
  type PodReport,
} from './status.js';

/**
 * The state every adapter pod of `source` must run: the payload of ApplyState. With a resolved
 * `sink` it carries that too, so a moved sink reaches the running adapters without a rollout.
 */
export function desiredAdapterState(source: SampleSource, sink?: SinkResult): ApplyStatePayload {
  const adapterSink = adapterSinkOf(sink);
  return {
    generation: source.metadata.generation,
    interval: source.spec.interval,
    paused: source.spec.paused,
    ...(adapterSink ? { sink: adapterSink } : {}),
  };
}

/**
 * Ready pods that still need the current state sent: no result yet, a result for an older
 * generation, or one for another sink than `sink` (the digest of the desired one; a sink moves
 * without a new generation). A pending command is already in flight (the protocol resends it), and
 * a failure for the current generation and sink would fail again, so neither is sent twice.
 */
export function podsNeedingState(
  generation: Generation,
  readyPods: readonly string[],
  reports: ReadonlyMap<string, PodReport>,
  sink?: string,
): string[] {
  return [...readyPods].sort().filter((pod) => {
    const report = reports.get(pod);
    if (report === undefined || report.generation < generation) return true;
    return sink !== undefined && report.generation === generation && report.sinkKey !== sink;
  });
}

/** The reports as they stand once `state` went to `sendTo`: those pods are pending it. */
function afterSending(
  reports: ReadonlyMap<string, PodReport>,
  sendTo: readonly string[],
  state: ApplyStatePayload,
): ReadonlyMap<string, PodReport> {
  if (sendTo.length === 0) return reports;
  const next = new Map(reports);
  const key = sinkKey(state.sink);
  for (const pod of sendTo)
    next.set(pod, { generation: state.generation, state: 'pending', ...(key ? { sinkKey: key } : {}) });
  return next;
}

/** What a reconcile observed, besides the source itself. */
export interface ObservedWorld {
  /** The object a sink ref points at, as the caller found it (see sink.ts sinkRefTarget). */
  sinkLookup?: SinkLookup;
  /** The Deployment named adapterDeploymentName(source), if it exists. */
  deployment?: V1Deployment;
  /** Adapter pods that are Ready and have an IP. */
  readyPods: readonly string[];
  /** Latest ApplyState result per pod. */
  reports: ReadonlyMap<string, PodReport>;
  /** The adapters' own last reported state per pod (delivery health for SinkReachable). */
  adapterStates?: ReadonlyMap<string, AdapterState> | undefined;
  now: Date;
}

/** An event for the recorder. */
export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** What one reconcile must do. */
export interface ReconcilePlan {
  /** The validated source; undefined when the spec (or metadata) is invalid. */
  source?: SampleSource;
  /** The sink as resolved (with its audience, which the reconciler mints tokens for); undefined with an invalid spec. */
  sink?: SinkResult;
  /** What to do with the adapter Deployment; undefined means leave it as it is. */
  deployment?: DeploymentAction;
  /** Desired state for the adapter pods; undefined when nothing may be sent. */
  adapterState?: ApplyStatePayload;
  /** Pods to send adapterState to now. */
  sendTo: string[];
  /** The new status; undefined when the metadata is unusable and nothing can be written. */
  status?: SampleSourceStatus;
  /** Whether status differs from what the object has (write it only then). */
  statusChanged: boolean;
  events: PlannedEvent[];
}

/** Configuration of {@link planReconcile}. */
export interface PlanOptions extends ResolveSinkOptions {
  adapter: AdapterOptions;
  /** Mode of a source whose spec.mode is unset (operator flag DEFAULT_SOURCE_MODE). Default dedicated. */
  defaultMode?: SourceMode;
}

function conditionOf(status: SampleSourceStatus | undefined, type: string) {
  return status?.conditions?.find((c) => c.type === type);
}

// Warn once per transition, not on every resync: only when Ready's reason changes to a failure.
function readyEvents(previous: SampleSourceStatus | undefined, next: SampleSourceStatus): PlannedEvent[] {
  const before = conditionOf(previous, ConditionType.Ready);
  const after = conditionOf(next, ConditionType.Ready);
  if (!after || after.status !== 'False') return [];
  if (before?.status === 'False' && before.reason === after.reason && before.message === after.message)
    return [];
  return [
    {
      type: 'Warning',
      reason: after.reason ?? 'NotReady',
      message: after.message ?? 'the SampleSource is not ready',
    },
  ];
}

/**
 * Normal events for the transitions a user follows with `kubectl describe`: a configuration
 * applied by every adapter, paused, resumed, Ready. One event per transition, none on resyncs.
 */
function transitionEvents(
  previous: SampleSourceStatus | undefined,
  next: SampleSourceStatus,
  generation: number,
): PlannedEvent[] {
  const events: PlannedEvent[] = [];
  const became = (type: string, status: string, reason?: string) => {
    const before = conditionOf(previous, type);
    const after = conditionOf(next, type);
    const is = (c: typeof after) => c?.status === status && (reason === undefined || c.reason === reason);
    return is(after) && !is(before);
  };
  // A new generation applied is news even when ConfigApplied was True before and stays True.
  const newGeneration = previous?.observedGeneration !== generation;
  if (
    became(ConditionType.ConfigApplied, 'True') ||
    (newGeneration && conditionOf(next, ConditionType.ConfigApplied)?.status === 'True')
  ) {
    const pods = next.readyReplicas ?? 0;
    const what = next.paused ? 'paused' : `every ${next.appliedInterval ?? '?'}`;
    events.push({
      type: 'Normal',
      reason: 'ConfigApplied',
      message: `Generation ${generation} (${what}) applied by ${pods} adapter pod${pods === 1 ? '' : 's'}`,
    });
  }
  if (became(ConditionType.Active, 'False', 'Paused')) {
    events.push({ type: 'Normal', reason: 'Paused', message: 'Heartbeats paused' });
  } else if (
    became(ConditionType.Active, 'True') &&
    conditionOf(previous, ConditionType.Active)?.reason === 'Paused'
  ) {
    events.push({
      type: 'Normal',
      reason: 'Resumed',
      message: `Heartbeats resumed, every ${next.appliedInterval ?? '?'}`,
    });
  }
  if (became(ConditionType.Ready, 'True')) {
    events.push({ type: 'Normal', reason: 'Ready', message: 'The SampleSource is Ready' });
  }
  return events;
}

/** Plans one reconcile of `raw` (the SampleSource as read from the API server). */
export function planReconcile(raw: unknown, world: ObservedWorld, options: PlanOptions): ReconcilePlan {
  const parsed = parseSampleSource(raw);
  if (!parsed.ok) {
    if (!parsed.metadata) return { sendTo: [], statusChanged: false, events: [] };
    const status = invalidSpecStatus(parsed.metadata, parsed.status, parsed.errors, world.now);
    return {
      status,
      statusChanged: statusChanged(parsed.status, status),
      sendTo: [],
      events: readyEvents(parsed.status, status),
    };
  }
  const source = parsed.source;
  const mode = effectiveMode(source.spec, options.defaultMode ?? DEFAULT_SOURCE_MODE);
  if (mode === 'shared') {
    // Until the pool is wired in (docs/pool.md), say so on the source; its Deployment, if any, stays.
    const status = {
      ...invalidSpecStatus(source.metadata, source.status, [sharedModeUnavailable()], world.now),
      mode,
    };
    return {
      status,
      statusChanged: statusChanged(source.status, status),
      sendTo: [],
      events: readyEvents(source.status, status),
    };
  }
  const sink = resolveSink(source.spec.sink, source.metadata.namespace, world.sinkLookup, options);
  const events: PlannedEvent[] = [];
  let deployment: DeploymentAction | undefined;
  let observation: DeploymentObservation = world.deployment
    ? { state: 'observed', deployment: world.deployment }
    : { state: 'missing' };
  // Without a sink there is nothing to point the adapters at: leave the Deployment as it is.
  if (sink.ok) {
    deployment = planDeployment(
      buildAdapterDeployment(
        source,
        sink.uri,
        options.adapter,
        world.deployment,
        sink.caCerts,
        sink.audience,
      ),
      world.deployment,
    );
    const name = deployment.deployment.metadata?.name ?? '';
    if (deployment.action === 'create') {
      events.push({
        type: 'Normal',
        reason: 'DeploymentCreated',
        message: `Created adapter Deployment ${name}`,
      });
    } else if (deployment.action === 'update') {
      events.push({
        type: 'Normal',
        reason: 'DeploymentUpdated',
        message: `Updated adapter Deployment ${name}`,
      });
    } else if (deployment.action === 'conflict') {
      observation = { state: 'notOwned', message: deployment.message };
    }
  }
  const steerable = observation.state === 'observed';
  const adapterState = steerable ? desiredAdapterState(source, sink) : undefined;
  const readyPods = steerable ? world.readyPods : [];
  const sendTo = adapterState
    ? podsNeedingState(adapterState.generation, readyPods, world.reports, sinkKey(adapterState.sink))
    : [];
  const status = computeStatus({
    source,
    sink,
    deployment: observation,
    readyPods,
    // A pod sent the state now is Processing it, also when only its sink changed.
    reports: adapterState ? afterSending(world.reports, sendTo, adapterState) : world.reports,
    now: world.now,
  });
  status.mode = mode;
  if (steerable && world.adapterStates) {
    const health = applySinkHealth(
      source.status?.conditions,
      status,
      world.adapterStates,
      readyPods,
      world.now,
    );
    if (health) events.push(health);
  }
  events.push(
    ...readyEvents(source.status, status),
    ...transitionEvents(source.status, status, source.metadata.generation),
  );
  return {
    source,
    sink,
    ...(deployment ? { deployment } : {}),
    ...(adapterState ? { adapterState } : {}),
    sendTo,
    status,
    statusChanged: statusChanged(source.status, status),
    events,
  };
}
