// Retry delays for the work queue, after client-go's default controller rate limiter:
// the larger of a per-key exponential backoff and an overall token bucket.
import { backoffDelay } from '../../control/backoff.js';
import { SYSTEM_CLOCK, type Clock } from '../../control/clock.js';

/** Decides how long a key waits before it is retried. */
export interface RateLimiter {
  /** The delay for the next retry of `key` (and records the attempt). */
  when(key: string): number;
  /** Forgets `key`'s failures after a success. */
  forget(key: string): void;
  /** How many times `key` has been retried since it was last forgotten. */
  retries(key: string): number;
}

/** Per-key exponential backoff: base * 2^failures, capped. Defaults 5 ms to 300 s. */
export class ExponentialRateLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();
  constructor(
    private readonly baseMs = 5,
    private readonly maxMs = 300_000,
  ) {}

  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // Deterministic, as client-go's: the bucket, not jitter, spreads many keys' retries.
    return backoffDelay(n, { initialMs: this.baseMs, maxMs: this.maxMs, multiplier: 2, jitter: 0 });
  }
  forget(key: string): void {
    this.failures.delete(key);
  }
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

/** An overall token bucket: `qps` retries per second with bursts of `burst`. Defaults 10 qps, burst 100. */
export class BucketRateLimiter implements RateLimiter {
  private tokens: number;
  private last: number;
  constructor(
    private readonly qps = 10,
    private readonly burst = 100,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  when(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.qps);
    this.last = t;
    // Reserve a token now, even if it is only available later (tokens may go negative).
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }
  forget(): void {}
  retries(): number {
    return 0;
  }
}

/** The largest delay of several limiters. */
export class MaxOfRateLimiter implements RateLimiter {
  private readonly limiters: RateLimiter[];
  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }
  when(key: string): number {
    return Math.max(0, ...this.limiters.map((l) => l.when(key)));
  }
  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }
  retries(key: string): number {
    return Math.max(0, ...this.limiters.map((l) => l.retries(key)));
  }
}

/** Options of {@link defaultRateLimiter}. */
export interface DefaultRateLimiterOptions {
  /** First retry delay. Default 5 ms. */
  baseDelayMs?: number;
  /** Longest retry delay. Default 300 s (5 minutes, like controller-runtime's 1000 s but tighter). */
  maxDelayMs?: number;
  /** Overall retries per second. Default 10. */
  qps?: number;
  /** Overall burst. Default 100. */
  burst?: number;
  /** The bucket's time. Default the system clock. */
  clock?: Clock;
}

/** Per-key exponential backoff combined with an overall bucket, client-go style. */
export function defaultRateLimiter(options: DefaultRateLimiterOptions = {}): RateLimiter {
  return new MaxOfRateLimiter(
    new ExponentialRateLimiter(options.baseDelayMs ?? 5, options.maxDelayMs ?? 300_000),
    new BucketRateLimiter(options.qps ?? 10, options.burst ?? 100, () =>
      (options.clock ?? SYSTEM_CLOCK).now(),
    ),
  );
}
