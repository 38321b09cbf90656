// The plan of one reconcile of a source whose mode is shared: the pool placement (pool-sessions.ts)
// stands in for the adapter Deployment. Pure, like planReconcile, which calls it: the sink resolved
// the same way, the status from computeSharedStatus, the same Events as a dedicated source, and the
// steps of planMode (delete the old Deployment first, place on the pool once no dedicated pod is left).
import type { SampleSource, SpecError } from '../../contract/samplesource.js';
import type { PoolPort } from '../pool/pool-runnable.js';
import type { SharedSource, SharedSourceStatus } from '../pool/pool-sessions.js';
import type { KubeObject } from '../runtime/index.js';
import type { ObservedWorld, PlanOptions, ReconcilePlan } from './desired-state.js';
import { readyEvents, statusEvents, type PlannedEvent } from './plan-events.js';
import { SOURCE_UID_LABEL } from './resources.js';
import type { ApplyStatePayload } from '../../contract/commands.js';
import { computeSharedStatus, type Handover, type ModePlan, type ModeWorld } from './shared-mode.js';
import { resolveSink, type SinkResult } from './sink.js';
import { invalidSpecStatus, statusChanged } from './status.js';

/** The spec error of a shared source whose sink wants OIDC tokens (not served by the pool yet). */
export function sharedAudienceUnsupported(fromSpec: boolean): SpecError {
  return {
    path: fromSpec ? 'spec.sink.audience' : 'spec.sink',
    message: `${fromSpec ? 'a sink audience' : 'the sink publishes an OIDC audience, which'} is not supported in shared mode (no sink tokens on the pool yet); use spec.mode dedicated`,
    area: 'sink',
  };
}

/** What the pool pod runs for a source: its configuration and resolved sink. */
export function sharedSourceOf(source: SampleSource, sink: Extract<SinkResult, { ok: true }>): SharedSource {
  return {
    key: `${source.metadata.namespace}/${source.metadata.name}`,
    uid: source.metadata.uid,
    generation: source.metadata.generation,
    interval: source.spec.interval,
    paused: source.spec.paused,
    sink: { uri: sink.uri, ...(sink.caCerts !== undefined ? { caCerts: sink.caCerts } : {}) },
    ceExtensions: source.spec.ceOverrides?.extensions ?? {},
  };
}

/** Plans a shared source (called by planReconcile with the mode plan it made). */
export function planShared(
  source: SampleSource,
  world: ObservedWorld,
  options: PlanOptions,
  modePlan: ModePlan,
): ReconcilePlan {
  const sink = resolveSink(source.spec.sink, source.metadata.namespace, world.sinkLookup, options);
  const deleteDeployment = modePlan.deleteDeployment;
  const events: PlannedEvent[] = [];
  if (deleteDeployment)
    events.push({
      type: 'Normal',
      reason: 'DeploymentDeleted',
      message: 'Deleted the adapter Deployment: the source moves to the shared pool',
    });
  if (sink.ok && sink.audience !== undefined) {
    // Refused on this source alone; a Deployment it still has keeps running, the pool lets it go.
    const status = {
      ...invalidSpecStatus(
        source.metadata,
        source.status,
        [sharedAudienceUnsupported(source.spec.sink.audience !== undefined)],
        world.now,
      ),
      mode: 'shared' as const,
    };
    return {
      source,
      sink,
      sendTo: [],
      status,
      statusChanged: statusChanged(source.status, status),
      events: readyEvents(source.status, status),
      modePlan,
      ...(world.pool !== undefined ? { poolRemove: true } : {}),
    };
  }
  const status = computeSharedStatus({ source, sink, pool: world.pool, now: world.now });
  const before = source.status?.poolPod;
  if (status.poolPod !== undefined && status.poolPod !== before)
    events.push({
      type: 'Normal',
      reason: 'AssignedToPool',
      message:
        before === undefined
          ? `Served by pool pod ${status.poolPod}`
          : `Moved from pool pod ${before} to ${status.poolPod}`,
    });
  events.push(...statusEvents(source, status));
  // Dedicated → shared: the dedicated pods are paused first, and the pool continues after the
  // highest last sequence they reported. Without a sink the pool could not take over: nothing paused.
  const handover = world.handover;
  const pause: ApplyStatePayload | undefined =
    modePlan.pauseDedicated && sink.ok
      ? { generation: source.metadata.generation, interval: source.spec.interval, paused: true }
      : undefined;
  const floor = handover && handover.paused.length > 0 ? { sequenceFloor: handover.lastSequence } : {};
  return {
    source,
    sink,
    ...(pause ? { adapterState: pause } : {}),
    sendTo: pause ? (handover?.toPause ?? []) : [],
    status,
    statusChanged: statusChanged(source.status, status),
    events,
    modePlan,
    // Without a sink the pool keeps what it runs, as a dedicated Deployment is left as it is.
    ...(modePlan.upsertToPool && sink.ok
      ? { poolUpsert: { ...sharedSourceOf(source, sink), ...floor } }
      : {}),
    ...(deleteDeployment ? { deleteDeployment } : {}),
  };
}

/** Whether `obj` is controlled by the source of uid `uid` (so it is ours to delete). */
export function controlledBy(obj: KubeObject | undefined, uid: string): boolean {
  return obj?.metadata.ownerReferences?.some((r) => r.controller && r.uid === uid) ?? false;
}

/**
 * What a mode switch depends on, from the caches and the pool: the source's own Deployment (one
 * another object controls is not ours and does not count), its dedicated pods (terminating ones
 * too: they may still emit) and whether the pool holds it.
 */
export function observeModeWorld(
  source: SampleSource,
  deployment: KubeObject | undefined,
  pods: readonly KubeObject[],
  readyDedicatedPods: number,
  pool: PoolPort | undefined,
  handover?: Handover,
): { world: ModeWorld; pool: SharedSourceStatus | undefined } {
  const key = `${source.metadata.namespace}/${source.metadata.name}`;
  const status = pool?.status(key);
  return {
    world: {
      deploymentExists: controlledBy(deployment, source.metadata.uid),
      dedicatedPods: pods.filter((p) => p.metadata.labels?.[SOURCE_UID_LABEL] === source.metadata.uid).length,
      readyDedicatedPods,
      inPool: status !== undefined,
      ...(handover ? { pausedDedicatedPods: handover.paused.length, pauseFailed: handover.failed } : {}),
    },
    pool: status,
  };
}
