// The Events a reconcile plans from the status it leaves, the same for dedicated and shared
// sources: a warning when Ready turns to a new failure, and the Normal transitions a user follows
// with `kubectl describe` (ConfigApplied per generation, Paused, Resumed, Ready).
import type { SampleSource, SampleSourceStatus } from '../../contract/samplesource.js';
import { ConditionType } from './status.js';

/** An event for the recorder. */
export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** A condition of `status` by type. */
export function conditionOf(status: SampleSourceStatus | undefined, type: string) {
  return status?.conditions?.find((c) => c.type === type);
}

/** The Events of a status change: {@link readyEvents} and {@link transitionEvents}. */
export function statusEvents(source: SampleSource, next: SampleSourceStatus): PlannedEvent[] {
  return [
    ...readyEvents(source.status, next),
    ...transitionEvents(source.status, next, source.metadata.generation),
  ];
}

/** Warn once per transition, not on every resync: only when Ready's reason changes to a failure. */
export function readyEvents(
  previous: SampleSourceStatus | undefined,
  next: SampleSourceStatus,
): PlannedEvent[] {
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
export function transitionEvents(
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
