// A controller: informer events become keys in a work queue; a bounded pool of workers calls
// the reconciler for one key at a time. The reconciler is one function; everything around it
// (dedup, serialisation per key, retries with backoff, requeue-after, logs, metrics) lives here.
import { WorkQueue } from './workqueue.js';
import { SYSTEM_CLOCK, sleepOn, type Clock } from '../../control/clock.js';
import type { RateLimiter } from './rate-limiter.js';
import type { Informer } from './informer.js';
import type { ChannelSource } from './channel-source.js';
import { objectKey, parseKey, requestKey, type KubeObject, type Request } from './objects.js';
import type { Predicate } from './predicates.js';
import { enqueueControllerOwner, type OwnerType } from './owner.js';
import type { RuntimeMetrics } from './metrics.js';
import { silentLogger, type Logger } from './logger.js';

/** What a reconcile asks for next. Nothing (or `{}`) means done until the next event. */
export interface Result {
  /** Reconcile again after this delay (polling something outside the cluster, waiting for time to pass). */
  requeueAfterMs?: number;
  /** Reconcile again with the key's rate-limited backoff, without counting as an error. */
  requeue?: boolean;
}

/** An error that retrying cannot fix (invalid spec, missing permission by design): logged, not retried. */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/** What a reconcile gets besides the request. */
export interface ReconcileContext {
  /** `namespace/name`. */
  key: string;
  /** Aborted when the controller stops (lost lease, shutdown past its deadline): stop early. */
  signal: AbortSignal;
  /** A logger bound to the controller and key. */
  log: Logger;
  /** How many times this key has been retried after failures since its last success. */
  retries: number;
}

/** The one function a controller author writes. Read the object from a lister: the request carries only its name. */
export type Reconciler = (request: Request, ctx: ReconcileContext) => Promise<Result | void>;

/** Options of {@link Controller}. */
export interface ControllerOptions {
  /** Used in logs and metric labels. */
  name: string;
  reconcile: Reconciler;
  /** Concurrent reconciles (never two for one key). Default 2. */
  workers?: number;
  /** Retry delays. Default: 5 ms doubling per key to 300 s, and 10 qps overall (burst 100). */
  rateLimiter?: RateLimiter;
  logger?: Logger;
  metrics?: RuntimeMetrics;
  /** Time for requeue-after, retries and the stop deadline. Default the system clock. */
  clock?: Clock;
}

/** Maps an informer event to the requests it should trigger. */
export type MapFunc<T extends KubeObject> = (obj: T) => Array<Request | string>;

/** Runs a {@link Reconciler} for keys fed by informers. */
export class Controller {
  readonly name: string;
  private readonly log: Logger;
  private queue?: WorkQueue;
  private workers: Promise<void>[] = [];
  private abort = new AbortController();
  private stopping?: Promise<void>;
  /** Cleared by stop(), so a start deferred behind a previous stop does not resurrect workers. */
  private wanted = false;
  private readonly primaries: Informer<KubeObject>[] = [];

  constructor(private readonly options: ControllerOptions) {
    this.name = options.name;
    this.log = (options.logger ?? silentLogger()).child({ controller: options.name });
  }

  /** The primary resource: each of its objects is reconciled under its own key. */
  for<T extends KubeObject>(informer: Informer<T>, ...predicates: Predicate<T>[]): this {
    this.primaries.push(informer);
    return this.watches(informer, (obj) => [objectKey(obj)], ...predicates);
  }

  /** Owned objects: their events enqueue the controlling owner of kind `owner`. */
  owns<T extends KubeObject>(informer: Informer<T>, owner: OwnerType, ...predicates: Predicate<T>[]): this {
    return this.watches(informer, enqueueControllerOwner(owner), ...predicates);
  }

  /** Any informer, with your own mapping from object to requests. */
  watches<T extends KubeObject>(informer: Informer<T>, map: MapFunc<T>, ...predicates: Predicate<T>[]): this {
    const enqueueAll = (obj: T) => {
      for (const r of map(obj)) this.enqueue(typeof r === 'string' ? r : requestKey(r));
    };
    informer.addHandler({
      onAdd: (obj) => predicates.every((p) => p.add?.(obj) ?? true) && enqueueAll(obj),
      onUpdate: (oldObj, newObj) => {
        if (!predicates.every((p) => p.update?.(oldObj, newObj) ?? true)) return;
        // An owner reference may have moved: both the old and the new owner must look.
        enqueueAll(oldObj);
        enqueueAll(newObj);
      },
      onDelete: (obj) => predicates.every((p) => p.delete?.(obj) ?? true) && enqueueAll(obj),
    });
    return this;
  }

  /**
   * A source that is not an informer (see {@link ChannelSource}): each value sent enqueues the
   * requests `map` gives; without `map` the values are the keys or requests themselves.
   */
  watchesChannel<T extends string | Request>(source: ChannelSource<T>): this;
  watchesChannel<T>(source: ChannelSource<T>, map: (value: T) => Array<Request | string>): this;
  watchesChannel<T>(source: ChannelSource<T>, map?: (value: T) => Array<Request | string>): this {
    const toRequests = map ?? ((value: T) => [value as string | Request]);
    source.subscribe((value) => {
      for (const r of toRequests(value)) this.enqueue(typeof r === 'string' ? r : requestKey(r));
    });
    return this;
  }

  /** Queues a key if the controller is running (while not leading, events are dropped; start() catches up). */
  enqueue(key: string): void {
    this.queue?.add(key);
  }

  /** Queues a key after a delay (e.g. when an asynchronous result is expected). */
  enqueueAfter(key: string, delayMs: number): void {
    this.queue?.addAfter(key, delayMs);
  }

  /** True while workers run. */
  get running(): boolean {
    return this.queue !== undefined && !this.queue.isShuttingDown;
  }

  /** Starts the workers and enqueues every cached primary object (level-triggered catch-up). */
  start(): void {
    this.wanted = true;
    if (this.running) return;
    if (this.stopping) {
      // Old workers are still finishing (lease lost, then regained): keep one worker per key.
      void this.stopping.then(() => this.wanted && this.start());
      return;
    }
    const metrics = this.options.metrics;
    const label = { controller: this.name };
    this.abort = new AbortController();
    this.queue = new WorkQueue({
      rateLimiter: this.options.rateLimiter,
      clock: this.options.clock,
      onDepth: (d) => metrics?.queueDepth.set(label, d),
      onAdd: () => metrics?.queueAdds.inc(label),
    });
    for (const informer of this.primaries) for (const key of informer.lister.keys()) this.queue.add(key);
    const workers = Math.max(1, this.options.workers ?? 2);
    this.workers = Array.from({ length: workers }, () => this.work(this.queue!));
    this.log.info({ workers }, 'controller started');
  }

  /**
   * Stops taking work and lets in-flight reconciles finish for up to `graceMs` (default 30 s);
   * past that their signal aborts. Resolves when every worker has returned.
   */
  async stop(graceMs = 30_000): Promise<void> {
    this.wanted = false;
    const queue = this.queue;
    if (!queue || queue.isShuttingDown) return this.stopping;
    queue.shutdown();
    this.stopping = (async () => {
      const drainedOrDeadline = new AbortController();
      const deadline = sleepOn(this.options.clock ?? SYSTEM_CLOCK, graceMs, drainedOrDeadline.signal);
      await Promise.race([queue.drained(), deadline]);
      drainedOrDeadline.abort(); // cancels the deadline's timer
      const abandoned = queue.inFlight;
      this.abort.abort();
      await Promise.all(this.workers);
      this.options.metrics?.queueDepth.set({ controller: this.name }, 0);
      this.log.info({ abandoned }, 'controller stopped');
    })();
    await this.stopping;
    this.stopping = undefined;
  }

  private async work(queue: WorkQueue): Promise<void> {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        await this.process(queue, key);
      } finally {
        queue.done(key);
      }
    }
  }

  private async process(queue: WorkQueue, key: string): Promise<void> {
    const metrics = this.options.metrics;
    const log = this.log.child({ key });
    const retries = queue.retries(key);
    const started = performance.now();
    let result: 'success' | 'requeue' | 'requeue_after' | 'error' | 'terminal' = 'success';
    let err: unknown;
    let next: Result | void = undefined;
    try {
      next = await this.options.reconcile(parseKey(key), { key, signal: this.abort.signal, log, retries });
    } catch (e) {
      err = e;
      result = e instanceof TerminalError ? 'terminal' : 'error';
    }
    const durationMs = Math.round((performance.now() - started) * 10) / 10;
    if (err === undefined) {
      if (next?.requeueAfterMs !== undefined) {
        result = 'requeue_after';
        queue.forget(key);
        queue.addAfter(key, next.requeueAfterMs);
      } else if (next?.requeue) {
        result = 'requeue';
        queue.addRateLimited(key);
      } else {
        queue.forget(key);
      }
      log.info({ durationMs, result, requeueAfterMs: next?.requeueAfterMs }, 'reconciled');
    } else if (result === 'terminal') {
      queue.forget(key);
      metrics?.reconcileErrors.inc({ controller: this.name });
      log.error(
        { durationMs, result, err: (err as Error).message },
        'reconcile failed terminally; not retrying',
      );
    } else {
      metrics?.reconcileErrors.inc({ controller: this.name });
      if (this.abort.signal.aborted) {
        log.warn(
          { durationMs, result: 'aborted', err: (err as Error)?.message },
          'reconcile aborted by shutdown',
        );
      } else {
        const delayMs = Math.round(queue.addRateLimited(key));
        metrics?.retries.inc({ controller: this.name });
        log.warn(
          {
            durationMs,
            result,
            retries: retries + 1,
            delayMs,
            err: err instanceof Error ? err.message : JSON.stringify(err),
          },
          'reconcile failed; retrying',
        );
      }
    }
    metrics?.reconcileDuration.observe({ controller: this.name, result }, durationMs / 1000);
  }
}
