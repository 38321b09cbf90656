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
import { adapterSinkOf, sinkKey } from './adapter-sink.js';
import type { SharedSource, SharedSourceStatus } from '../pool/pool-sessions.js';
import { readyEvents, statusEvents, type PlannedEvent } from './plan-events.js';
import { planMode, type Handover, type ModePlan, type ModeWorld } from './shared-mode.js';
import { planShared } from './shared-reconcile.js';
import { applySinkHealth } from './sink-health.js';
import { resolveSink, type ResolveSinkOptions, type SinkLookup, type SinkResult } from './sink.js';
import {
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
  /** What a mode switch depends on; default: from deployment and readyPods, not in the pool. */
  mode?: ModeWorld;
  /** Where the pool stands with the source (shared mode, or a switch away from it). */
  pool?: SharedSourceStatus;
  /** Dedicated → shared: where the ready dedicated pods stand with the handover pause. */
  handover?: Handover;
  /** Shared → dedicated: the last sequence the pool used; the dedicated pods continue after it. */
  sequenceFloor?: number;
  now: Date;
}

export type { PlannedEvent } from './plan-events.js';

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
  /** The steps of the source's mode (shared-mode.ts planMode), planned once here. */
  modePlan?: ModePlan;
  /** Shared mode: place or update the source on the pool with this configuration. */
  poolUpsert?: SharedSource;
  /** Take the source off the pool (switched to dedicated and a dedicated pod is Ready, or refused). */
  poolRemove?: boolean;
  /** Delete the adapter Deployment and its certificate Secret (switched to shared). */
  deleteDeployment?: boolean;
}

/** Configuration of {@link planReconcile}. */
export interface PlanOptions extends ResolveSinkOptions {
  adapter: AdapterOptions;
  /** Mode of a source whose spec.mode is unset (operator flag DEFAULT_SOURCE_MODE). Default dedicated. */
  defaultMode?: SourceMode;
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
  const modePlan = planMode(
    mode,
    world.mode ?? {
      deploymentExists: world.deployment !== undefined,
      dedicatedPods: world.readyPods.length,
      readyDedicatedPods: world.readyPods.length,
      inPool: world.pool !== undefined,
    },
  );
  if (mode === 'shared') return planShared(source, world, options, modePlan);
  const sink = resolveSink(source.spec.sink, source.metadata.namespace, world.sinkLookup, options);
  const events: PlannedEvent[] = [];
  let deployment: DeploymentAction | undefined;
  let observation: DeploymentObservation = world.deployment
    ? { state: 'observed', deployment: world.deployment }
    : { state: 'missing' };
  // Without a sink there is nothing to point the adapters at: leave the Deployment as it is.
  if (sink.ok) {
    // Switching back from the pool: the new pods start paused until the pool let go (planMode).
    const template = modePlan.startPaused ? { ...source, spec: { ...source.spec, paused: true } } : source;
    deployment = planDeployment(
      buildAdapterDeployment(
        template,
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
  const adapterState =
    steerable && modePlan.steerDedicated
      ? {
          ...desiredAdapterState(source, sink),
          ...(world.sequenceFloor !== undefined ? { sequenceFloor: world.sequenceFloor } : {}),
        }
      : undefined;
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
  events.push(...statusEvents(source, status));
  return {
    source,
    sink,
    ...(deployment ? { deployment } : {}),
    ...(adapterState ? { adapterState } : {}),
    sendTo,
    status,
    statusChanged: statusChanged(source.status, status),
    events,
    modePlan,
    ...(modePlan.removeFromPool ? { poolRemove: true } : {}),
  };
}
