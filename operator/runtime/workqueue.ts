// A work queue of keys with client-go's guarantees: a key waiting in the queue is held once
// however often it is added; a key being processed is never handed to a second worker (an add
// during processing is remembered and delivered after `done`); delayed adds keep the earliest
// time; failures are retried through a rate limiter. Unlike client-go, an immediate add drops a
// delayed add of the same key (the pass it brings asks for its own delay again).
import { defaultRateLimiter, type RateLimiter } from './rate-limiter.js';
import { SYSTEM_CLOCK, type Clock, type ClockTimer } from '../../control/clock.js';

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** Retry delays. Default: {@link defaultRateLimiter}. */
  rateLimiter?: RateLimiter;
  /** Called whenever the number of waiting keys changes (a metrics gauge). */
  onDepth?: (depth: number) => void;
  /** Called for every key actually added (not deduplicated away). */
  onAdd?: () => void;
  /** Time for delayed adds (and the default rate limiter's bucket). Default the system clock. */
  clock?: Clock;
}

/** A deduplicating, per-key-serialising, rate-limited work queue. */
export class WorkQueue {
  private readonly queue: string[] = [];
  /** Keys that need processing (queued, or re-added while processing). */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  /** Delayed adds: key -> when it is due and its timer. */
  private readonly waiting = new Map<string, { at: number; timer: ClockTimer }>();
  private readonly clock: Clock;
  private readonly getters: Array<(key: string | undefined) => void> = [];
  private readonly drainWaiters: Array<() => void> = [];
  private shuttingDown = false;
  readonly rateLimiter: RateLimiter;

  constructor(private readonly options: WorkQueueOptions = {}) {
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.rateLimiter = options.rateLimiter ?? defaultRateLimiter({ clock: this.clock });
  }

  /** Keys waiting to be handed out (not counting those being processed or delayed). */
  get length(): number {
    return this.queue.length;
  }

  /** Keys currently handed out to workers. */
  get inFlight(): number {
    return this.processing.size;
  }

  /** True once {@link shutdown} was called. */
  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /**
   * Marks `key` as needing work; a no-op if it is already waiting. A delayed add of the key
   * pending is dropped: the pass this add brings decides again when to come back (a reconcile
   * asks for its requeue-after on every pass), so a key woken early is not reconciled twice.
   */
  add(key: string): void {
    if (this.shuttingDown) return;
    const delayed = this.waiting.get(key);
    if (delayed) {
      delayed.timer.cancel();
      this.waiting.delete(key);
    }
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
    this.options.onAdd?.();
    // Being processed: `done` will queue it again, so one worker per key holds.
    if (this.processing.has(key)) return;
    this.hand(key);
  }

  /** Gives a dirty, unprocessed key to a waiting worker, or queues it. */
  private hand(key: string): void {
    const getter = this.getters.shift();
    if (getter) {
      this.dirty.delete(key);
      this.processing.add(key);
      getter(key);
    } else {
      this.queue.push(key);
      this.options.onDepth?.(this.queue.length);
    }
  }

  /** Adds `key` after `delayMs`; an earlier pending add for the key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = this.clock.now() + delayMs;
    const pending = this.waiting.get(key);
    if (pending && pending.at <= at) return;
    pending?.timer.cancel();
    const timer = this.clock
      .setTimer(() => {
        this.waiting.delete(key);
        this.add(key);
      }, delayMs)
      .unref();
    this.waiting.set(key, { at, timer });
  }

  /** Re-adds `key` after its rate-limited backoff; returns the delay chosen. */
  addRateLimited(key: string): number {
    const delay = this.rateLimiter.when(key);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears `key`'s failure history (after a success or a terminal error). */
  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  /** How often `key` has been retried since it was last forgotten. */
  retries(key: string): number {
    return this.rateLimiter.retries(key);
  }

  /** Waits for a key; resolves `undefined` once the queue shuts down. Call {@link done} when finished. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      this.options.onDepth?.(this.queue.length);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Ends the processing of `key`; if it was added meanwhile it is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    // Added while it was processed: now it may go to a worker (a waiting one takes it at once).
    if (this.dirty.has(key) && !this.shuttingDown) this.hand(key);
    if (this.processing.size === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  /** Stops handing out keys (waiting workers get `undefined`) and drops delayed adds. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.waiting.values()) timer.cancel();
    this.waiting.clear();
    for (const getter of this.getters.splice(0)) getter(undefined);
  }

  /** Resolves once no key is being processed. */
  drained(): Promise<void> {
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }
}
