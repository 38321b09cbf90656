// SinkReachable (issue 13): the adapters' delivery health folded into one condition with
// hysteresis, so a single lost heartbeat does not flap status and a recovery is not declared on
// one lucky request. Pure: the caller passes the previous condition and the adapters' states.
import type { AdapterState } from '../../contract/commands.js';
import type { Condition } from '../runtime/conditions.js';
import { applyConditions } from './status.js';
import type { EventType } from '../runtime/events.js';

export const SinkReachable = 'SinkReachable';

/** Reasons of the SinkReachable condition (documented in docs/api.md). */
export const SinkHealthReason = {
  /** Every reporting adapter delivers. */
  Delivering: 'Delivering',
  /** Some adapter failed FAIL_AFTER deliveries in a row. */
  DeliveryFailing: 'DeliveryFailing',
  /** No adapter has reported a delivery yet. */
  AwaitingDelivery: 'AwaitingDelivery',
} as const;

/** Failed deliveries in a row before the condition turns False. */
export const FAIL_AFTER = 3;
/** Successful deliveries in a row (on every failing adapter) before it turns True again. */
export const RECOVER_AFTER = 2;

type Health = Pick<
  AdapterState,
  'podName' | 'lastSendFailureReason' | 'consecutiveFailures' | 'consecutiveSuccesses'
>;

/** The wanted condition and, on a transition, the Event to record. */
export interface SinkHealthDecision {
  condition: Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;
  event?: { type: EventType; reason: string; message: string };
}

/**
 * Decides SinkReachable from the previous condition and the adapters' reported health.
 * False once any adapter has FAIL_AFTER consecutive failures; True again only when no adapter
 * is failing and every adapter that reports has RECOVER_AFTER consecutive successes; in between
 * the previous status holds (hysteresis). Adapters that do not report health are ignored.
 */
export function decideSinkHealth(
  previous: Pick<Condition, 'status' | 'reason' | 'message'> | undefined,
  states: Iterable<Health>,
): SinkHealthDecision {
  const reporting = [...states].filter(
    (s) => s.consecutiveFailures !== undefined || s.consecutiveSuccesses !== undefined,
  );
  const failing = reporting
    .filter((s) => (s.consecutiveFailures ?? 0) >= FAIL_AFTER)
    .sort((a, b) => a.podName.localeCompare(b.podName));
  const wasFalse = previous?.status === 'False';

  if (failing.length > 0) {
    const first = failing[0]!;
    const cause = first.lastSendFailureReason || 'unknown error';
    const message = `${failing.length} of ${reporting.length} adapter(s) failing; ${first.podName}: ${first.consecutiveFailures} consecutive failed deliveries (${cause})`;
    const condition = {
      type: SinkReachable,
      status: 'False' as const,
      reason: SinkHealthReason.DeliveryFailing,
      message,
    };
    // One Warning per outage, not per report: only on the transition into False.
    if (wasFalse) return { condition };
    return { condition, event: { type: 'Warning', reason: 'SinkUnreachable', message } };
  }

  const recovered =
    reporting.length > 0 && reporting.every((s) => (s.consecutiveSuccesses ?? 0) >= RECOVER_AFTER);
  if (wasFalse) {
    if (!recovered)
      return {
        condition: {
          type: SinkReachable,
          status: 'False',
          reason: previous.reason,
          message: previous.message,
        },
      };
    const message = `deliveries succeed again (${RECOVER_AFTER}+ in a row on every adapter)`;
    return {
      condition: { type: SinkReachable, status: 'True', reason: SinkHealthReason.Delivering, message },
      event: { type: 'Normal', reason: 'SinkReachable', message },
    };
  }
  if (previous?.status === 'True' || reporting.some((s) => (s.consecutiveSuccesses ?? 0) > 0)) {
    return {
      condition: {
        type: SinkReachable,
        status: 'True',
        reason: SinkHealthReason.Delivering,
        message: 'deliveries succeed',
      },
    };
  }
  return {
    condition: {
      type: SinkReachable,
      status: 'Unknown',
      reason: SinkHealthReason.AwaitingDelivery,
      message: 'no delivery reported yet',
    },
  };
}

/**
 * Whether a state notification moved the adapter across a threshold the decision looks at;
 * only then does the operator re-reconcile (bounded: a few per outage, not one per heartbeat).
 */
export function healthSignature(s: Health | undefined): string {
  if (!s || (s.consecutiveFailures === undefined && s.consecutiveSuccesses === undefined)) return '';
  const failing = (s.consecutiveFailures ?? 0) >= FAIL_AFTER;
  const successes = s.consecutiveSuccesses ?? 0;
  return [failing, successes > 0, successes >= RECOVER_AFTER, failing ? s.lastSendFailureReason : ''].join(
    '|',
  );
}

/**
 * Sets SinkReachable on a freshly computed `status` from the ready pods' reported health and
 * returns the Event of a transition, if any. Not a Ready dependent (severity Info): a sink
 * outage is the sink's problem, the source itself is deployed and configured.
 */
export function applySinkHealth(
  previous: readonly Condition[] | undefined,
  status: { conditions?: Condition[] },
  states: ReadonlyMap<string, AdapterState>,
  readyPods: readonly string[],
  now: Date,
): SinkHealthDecision['event'] {
  const prev = previous?.find((c) => c.type === SinkReachable);
  const ready = readyPods.flatMap((p) => {
    const s = states.get(p);
    return s ? [s] : [];
  });
  const decision = decideSinkHealth(prev, ready);
  status.conditions = applyConditions(status.conditions, [decision.condition], now);
  return decision.event;
}
