// Reconnect delays: exponential with jitter and a cap, and no attempt limit (the Knative original
// gave up after ten tries, leaving a dead connection in its pool). The one backoff of the tree:
// the control client, the operator runtime's informers and its per-key work queue retries, and the adapter's sink retries use it.

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
  /**
   * Jitter only adds (delay in [base, base·(1 + jitter)]) instead of spreading both ways. Default false. Knative's
   * delivery retries need it: no delay may fall below the base delay.
   */
  upwardJitter?: boolean;
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
  if (options.upwardJitter === true) return Math.min(max, base + random() * spread);
  return Math.max(0, Math.min(max, base - spread + random() * 2 * spread));
}

/** A stateful {@link backoffDelay}: `next()` grows the delay, `reset()` after a success. Same defaults. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt (and counts it). */
  next(): number {
    return backoffDelay(this.attempt++, this.options, this.random);
  }

  /** Attempts counted since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
