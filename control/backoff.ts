// Reconnect delays: exponential with jitter and a cap, and no attempt limit (the Knative original
// gave up after ten tries, leaving a dead connection in its pool).

/**
 * Backoff settings. Defaults: 100 ms initial, 1 s cap, x2 per attempt, 20 % jitter. The cap is short on purpose: a
 * client must not sleep for seconds after a short outage (a restarted server is dialled within a second of listening).
 */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  multiplier?: number;
  /** Fraction of the delay randomised, 0..1: spreads reconnects of many clients after a server restart. */
  jitter?: number;
}

/** Delay before reconnect attempt `attempt` (0-based), jittered around the exponential value, never above maxMs. */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialMs ?? 100;
  const max = options.maxMs ?? 1_000;
  const multiplier = options.multiplier ?? 2;
  const jitter = Math.min(Math.max(options.jitter ?? 0.2, 0), 1);
  const base = Math.min(max, initial * Math.pow(multiplier, Math.min(attempt, 60)));
  const spread = base * jitter;
  return Math.max(0, Math.min(max, base - spread + random() * 2 * spread));
}
