// Shared mode decisions, pure so they are table-tested: the Deployed condition of a source on
// the shared pool (reason AssignedToPool), its status, and the steps of a live switch between
// dedicated and shared. planReconcile plans them once per reconcile (shared-reconcile.ts).
import type { Generation } from '../../contract/commands.js';
import type { SampleSource, SampleSourceStatus, SourceMode } from '../../contract/samplesource.js';
import type { SharedSourceStatus } from '../pool/pool-sessions.js';
import type { SinkResult } from './sink.js';
import { computeStatus, ConditionType, type DesiredCondition, type PodReport } from './status.js';

/** Reasons of the shared-mode Deployed condition (documented in docs/api.md). */
export const SharedReason = {
  AssignedToPool: 'AssignedToPool',
  NoPoolPod: 'NoPoolPod',
  Placing: 'Placing',
  HandingOff: 'HandingOff',
  OwnerLost: 'OwnerLost',
  RejectedByPool: 'RejectedByPool',
} as const;

/** Deployed for a shared source: True once a pool pod confirmed it runs the source. */
export function placedCondition(pool: SharedSourceStatus | undefined): DesiredCondition {
  const type = ConditionType.Deployed;
  const phase = pool?.phase ?? 'unplaced';
  switch (phase) {
    case 'running':
      return {
        type,
        status: 'True',
        reason: SharedReason.AssignedToPool,
        message: `served by pool pod ${pool?.pod ?? '?'}`,
      };
    case 'starting':
      return {
        type,
        status: 'Unknown',
        reason: SharedReason.Placing,
        message: 'sent to a pool pod, not yet confirmed',
      };
    case 'releasing':
      return {
        type,
        status: 'Unknown',
        reason: SharedReason.HandingOff,
        message: 'moving between pool pods: waiting for the old owner to release it',
      };
    case 'orphaned':
      return {
        type,
        status: 'Unknown',
        reason: SharedReason.OwnerLost,
        message: 'its pool pod was lost; restarting after the dead-peer bound',
      };
    case 'rejected':
      return {
        type,
        status: 'False',
        reason: SharedReason.RejectedByPool,
        message: pool?.message ?? 'the pool pod refused the source',
      };
    default:
      return { type, status: 'Unknown', reason: SharedReason.NoPoolPod, message: 'no ready pool pod' };
  }
}

/** Everything {@link computeSharedStatus} needs. */
export interface SharedStatusInput {
  source: SampleSource;
  sink: SinkResult;
  pool: SharedSourceStatus | undefined;
  now: Date;
}

/**
 * The status of a shared source: the same conditions as a dedicated one (the serving pool pod
 * plays the one ready adapter pod), plus status.mode and status.poolPod.
 */
export function computeSharedStatus(input: SharedStatusInput): SampleSourceStatus {
  const { pool } = input;
  const serving = pool?.phase === 'running' && pool.pod !== undefined ? pool.pod : undefined;
  const reports = new Map<string, PodReport>();
  if (serving !== undefined && pool?.appliedGeneration !== undefined) {
    reports.set(serving, { generation: pool.appliedGeneration, state: 'succeeded' });
  }
  const status = computeStatus({
    source: input.source,
    sink: input.sink,
    deployment: { state: 'pooled', condition: placedCondition(pool) },
    readyPods: serving !== undefined ? [serving] : [],
    reports,
    now: input.now,
  });
  status.mode = 'shared';
  if (serving !== undefined) status.poolPod = serving;
  return status;
}

/** What the reconcile saw that a mode switch depends on. */
export interface ModeWorld {
  /** The source's adapter Deployment exists. */
  deploymentExists: boolean;
  /** Dedicated adapter pods that still exist (terminating ones included): they may still emit. */
  dedicatedPods: number;
  /** Dedicated adapter pods that are Ready (steerable). */
  readyDedicatedPods: number;
  /** The pool holds the source (any phase). */
  inPool: boolean;
  /** Ready dedicated pods that confirmed the handover pause at the current generation (see {@link handoverOf}). Default 0. */
  pausedDedicatedPods?: number;
  /** A dedicated pod refused or failed the handover pause, or cannot report its last sequence: delete first instead. Default false. */
  pauseFailed?: boolean;
}

/** Where the dedicated pods stand in a dedicated → shared handover: pause them, then place on the pool. */
export interface Handover {
  /** Ready pods whose ApplyState paused (this generation) succeeded with a last sequence. */
  paused: string[];
  /** Ready pods to send the pause to now (no pause of this generation sent, or it went to an older one). */
  toPause: string[];
  /** Some pod failed the pause, or confirmed it without a last sequence (an older adapter). */
  failed: boolean;
  /** Highest last sequence of the paused pods: the pool continues after it. */
  lastSequence: number;
}

const sameGeneration = (a: Generation, b: Generation) => BigInt(a) === BigInt(b);

/** The handover from each ready dedicated pod's last ApplyState report (pure, table-tested). */
export function handoverOf(
  generation: Generation,
  readyPods: readonly string[],
  reports: ReadonlyMap<string, PodReport>,
): Handover {
  const out: Handover = { paused: [], toPause: [], failed: false, lastSequence: 0 };
  for (const pod of [...readyPods].sort()) {
    const r = reports.get(pod);
    const pause = r !== undefined && r.paused === true && sameGeneration(r.generation, generation);
    if (!pause) out.toPause.push(pod);
    else if (r.state === 'succeeded' && r.lastSequence !== undefined) {
      out.paused.push(pod);
      out.lastSequence = Math.max(out.lastSequence, r.lastSequence);
    } else if (r.state !== 'pending') out.failed = true;
  }
  return out;
}

/** The steps a reconcile takes for the source's mode. */
export interface ModePlan {
  /** Create or update the adapter Deployment and its certificate Secret. */
  applyDeployment: boolean;
  /** Delete the adapter Deployment (and Secret). */
  deleteDeployment: boolean;
  /** Upsert the source, with its desired config, into the pool. */
  upsertToPool: boolean;
  /** Remove the source from the pool. */
  removeFromPool: boolean;
  /**
   * Apply the Deployment with its initial SAMPLESOURCE_PAUSED=true: a dedicated adapter ticks from
   * its environment at start, so while the pool still runs the source its new pods must start paused.
   */
  startPaused: boolean;
  /** Send ApplyState (the real paused value) to the dedicated pods: only once the pool let go. */
  steerDedicated: boolean;
  /** Dedicated → shared: send the ready dedicated pods ApplyState paused (their results report the last sequence). */
  pauseDedicated: boolean;
}

/**
 * No double emission across a switch, at the cost of a gap of at most about one interval.
 * Dedicated → shared pauses every dedicated pod over its control stream first (each result reports
 * the pod's last sequence), then places the source on the pool, continuing after the highest, and
 * deletes the Deployment; when a pod cannot be paused (not Ready, a failed pause, an adapter that
 * does not report its sequence) it deletes the Deployment first and places the source only once no
 * dedicated pod is left. Shared → dedicated applies the Deployment with its pods starting paused,
 * releases the source from the pool once a dedicated pod is Ready, and steers (unpauses) the
 * dedicated pods only after the pool let go, continuing after the pool's last sequence.
 */
export function planMode(mode: SourceMode, world: ModeWorld): ModePlan {
  if (mode === 'shared') {
    const none = !world.deploymentExists && world.dedicatedPods === 0;
    // Every dedicated pod that exists is Ready and confirmed paused: none of them emits any more.
    const handedOver = world.dedicatedPods > 0 && (world.pausedDedicatedPods ?? 0) === world.dedicatedPods;
    const canPause =
      world.deploymentExists &&
      world.dedicatedPods > 0 &&
      world.readyDedicatedPods === world.dedicatedPods &&
      !world.pauseFailed;
    const place = world.inPool || none || handedOver;
    return {
      applyDeployment: false,
      deleteDeployment: world.deploymentExists && (place || !canPause),
      upsertToPool: place,
      removeFromPool: false,
      startPaused: false,
      steerDedicated: false,
      pauseDedicated: !place && canPause,
    };
  }
  return {
    pauseDedicated: false,
    applyDeployment: true,
    deleteDeployment: false,
    upsertToPool: false,
    removeFromPool: world.inPool && world.readyDedicatedPods > 0,
    startPaused: world.inPool,
    steerDedicated: !world.inPool,
  };
}
