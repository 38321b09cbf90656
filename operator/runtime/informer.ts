// List-then-watch with a local cache, written to close client-node's informer holes:
// it never gives up (every error reconnects with backoff, 429 honours Retry-After), resumes
// from the last resourceVersion, relists only on 410 Gone, asks for bookmarks, bounds every
// watch with a server-side timeoutSeconds plus a client watchdog (a silently stalled
// connection is noticed), hands the old object to update handlers and can resync periodically.
import type { z } from 'zod';
import { isGone, ApiError, type KubeClient } from './client.js';
import { Cache, type Lister } from './cache.js';
import { Backoff, type BackoffOptions } from '../../control/backoff.js';
import { SYSTEM_CLOCK, sleepOn, type Clock } from '../../control/clock.js';
import { kubeObjectSchema, objectKey, resourcePath, type KubeObject, type ResourceType } from './objects.js';
import type { RuntimeMetrics } from './metrics.js';
import { silentLogger, type Logger } from './logger.js';

/** Callbacks for cache changes. They run synchronously in event order; keep them cheap (enqueue a key). */
export interface EventHandler<T extends KubeObject> {
  onAdd?(obj: T): void;
  /** `oldObj` is the cached state before this event; on resync both are the same object. */
  onUpdate?(oldObj: T, newObj: T): void;
  /** `obj` is the last known state. */
  onDelete?(obj: T): void;
}

/** Options of {@link Informer}. */
export interface InformerOptions<T extends KubeObject> {
  resource: ResourceType;
  /** Watch one namespace only. Default: all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Validates objects at the edge; invalid ones are logged and skipped. Default: {@link kubeObjectSchema}. */
  schema?: z.ZodType<T>;
  /** Server-side watch timeout; the server ends the watch and we resume from the last resourceVersion. Default 300 s. */
  watchTimeoutSeconds?: number;
  /** The watchdog aborts a watch still open this long after its server timeout (a stalled connection). Default 30 s. */
  watchdogGraceMs?: number;
  /** Abort a watch that delivered nothing (not even a bookmark) for this long. Default: off. */
  idleTimeoutMs?: number;
  /** Call `onUpdate(obj, obj)` for every cached object this often. Default 0 (off). */
  resyncPeriodMs?: number;
  /** Reconnect backoff. Default 500 ms doubling to 30 s, 20 % jitter either way. */
  backoff?: BackoffOptions;
  /** Time for the reconnect waits. Default the system clock. */
  clock?: Clock;
  /** Page size of lists. Default 500. */
  pageSize?: number;
  logger?: Logger;
  metrics?: RuntimeMetrics;
}

/** Counters tests and operators can look at. */
export interface InformerStats {
  /** Completed full lists (1 after the initial sync, +1 per relist). */
  lists: number;
  /** Watch connections opened. */
  watches: number;
  /** 410 Gone answers seen (each leads to a relist). */
  gone: number;
  /** Watches aborted by the watchdog. */
  watchdogAborts: number;
}

interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: unknown;
}

/** A watch that ended this fast without any event counts as a failure, to avoid a reconnect hot loop. */
const MIN_HEALTHY_WATCH_MS = 1_000;

/** Lists and watches one resource, keeps a cache and calls handlers. */
export class Informer<T extends KubeObject = KubeObject> {
  readonly stats: InformerStats = { lists: 0, watches: 0, gone: 0, watchdogAborts: 0 };
  private readonly cache = new Cache<T>();
  private readonly handlers: EventHandler<T>[] = [];
  private readonly log: Logger;
  private readonly schema: z.ZodType<T>;
  private readonly backoff: Backoff;
  private readonly resourceLabel: string;
  private abort = new AbortController();
  private running?: Promise<void>;
  private resyncTimer?: NodeJS.Timeout;
  private resourceVersion = '';
  private synced = false;
  private syncWaiters: Array<() => void> = [];

  constructor(
    private readonly client: KubeClient,
    private readonly options: InformerOptions<T>,
  ) {
    this.schema = options.schema ?? (kubeObjectSchema as unknown as z.ZodType<T>);
    this.backoff = new Backoff({ initialMs: 500, maxMs: 30_000, ...options.backoff });
    this.resourceLabel = `${options.resource.plural}.${options.resource.apiVersion}`;
    this.log = (options.logger ?? silentLogger()).child({
      informer: this.resourceLabel,
      namespace: options.namespace,
    });
  }

  /** The read-only cache. */
  get lister(): Lister<T> {
    return this.cache;
  }

  /** True once the first list has been stored. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** The resourceVersion the next watch resumes from. */
  get lastResourceVersion(): string {
    return this.resourceVersion;
  }

  /** Adds a handler; one added after the sync first gets `onAdd` for every cached object. */
  addHandler(handler: EventHandler<T>): void {
    this.handlers.push(handler);
    if (this.synced) for (const obj of this.cache.list()) this.call(handler, 'onAdd', obj);
  }

  /** Starts the list/watch loop; idempotent. */
  start(): void {
    if (this.running) return;
    this.abort = new AbortController();
    this.running = this.loop().catch((err) => this.log.error({ err }, 'informer loop crashed'));
    const period = this.options.resyncPeriodMs ?? 0;
    if (period > 0) {
      this.resyncTimer = setInterval(() => this.resync(), period);
      this.resyncTimer.unref();
    }
  }

  /** Stops watching and waits for the loop to end. The cache keeps its content. */
  async stop(): Promise<void> {
    this.abort.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.running;
    this.running = undefined;
  }

  /** Resolves once synced; rejects when `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(new Error(`${this.resourceLabel}: stopped before the cache synced`));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  private resync(): void {
    if (!this.synced) return;
    for (const obj of this.cache.list()) this.dispatch('onUpdate', obj, obj);
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.list(signal);
          needList = false;
          this.backoff.reset();
        }
        const healthy = await this.watch(signal);
        this.options.metrics?.watchRestarts.inc({ resource: this.resourceLabel, cause: 'closed' });
        if (healthy) this.backoff.reset();
        else await sleepOn(this.options.clock ?? SYSTEM_CLOCK, this.backoff.next(), signal);
      } catch (err) {
        if (signal.aborted) break;
        if (isGone(err) && !needList) {
          // Our resourceVersion was compacted away: only a fresh list can tell what we missed.
          // (A 410 while listing, from an expired continue token, falls through to the backoff below.)
          this.stats.gone++;
          needList = true;
          this.log.info(
            { resourceVersion: this.resourceVersion },
            'resourceVersion too old (410 Gone); relisting',
          );
          this.options.metrics?.watchRestarts.inc({ resource: this.resourceLabel, cause: 'gone' });
          continue;
        }
        const retryAfterMs = err instanceof ApiError ? err.retryAfterMs : undefined;
        const delay = retryAfterMs ?? this.backoff.next();
        this.options.metrics?.watchRestarts.inc({
          resource: this.resourceLabel,
          cause: err instanceof ApiError && err.code === 429 ? 'throttled' : 'error',
        });
        this.log.warn(
          { err: (err as Error).message, delayMs: Math.round(delay), needList },
          'list/watch failed; retrying',
        );
        await sleepOn(this.options.clock ?? SYSTEM_CLOCK, delay, signal);
      }
    }
  }

  private selectorQuery() {
    return { labelSelector: this.options.labelSelector, fieldSelector: this.options.fieldSelector };
  }

  private async list(signal: AbortSignal): Promise<void> {
    const rt = this.options.resource;
    const path = resourcePath(rt, this.options.namespace);
    const items: T[] = [];
    let cont: string | undefined;
    let rv: string;
    do {
      const page = await this.client.request<{
        apiVersion?: string;
        kind?: string;
        metadata?: { resourceVersion?: string; continue?: string };
        items?: unknown[];
      }>('GET', path, {
        query: { ...this.selectorQuery(), limit: this.options.pageSize ?? 500, continue: cont },
        signal,
        timeoutMs: 60_000,
      });
      // List items come without apiVersion/kind; fill them in so listed and watched objects look alike.
      const kind = page.kind?.replace(/List$/, '');
      for (const raw of page.items ?? []) {
        const obj = this.parse({ apiVersion: page.apiVersion, kind, ...(raw as object) });
        if (obj) items.push(obj);
      }
      rv = page.metadata?.resourceVersion ?? '';
      cont = page.metadata?.continue || undefined;
    } while (cont);
    this.resourceVersion = rv;
    this.stats.lists++;
    this.options.metrics?.relists.inc({ resource: this.resourceLabel });
    const { added, updated, deleted } = this.cache.replace(items);
    for (const obj of deleted) this.dispatch('onDelete', obj);
    for (const obj of added) this.dispatch('onAdd', obj);
    for (const [oldObj, newObj] of updated) this.dispatch('onUpdate', oldObj, newObj);
    this.log.debug({ count: items.length, resourceVersion: rv }, 'listed');
    if (!this.synced) {
      this.synced = true;
      for (const waiter of this.syncWaiters.splice(0)) waiter();
    }
  }

  /** One watch connection; resolves true if it was healthy, throws on errors (410 included). */
  private async watch(outer: AbortSignal): Promise<boolean> {
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? 300;
    // Spread reconnections of many informers over time, as client-go does.
    const serverTimeout = Math.max(1, Math.round(timeoutSeconds * (1 + Math.random() * 0.1)));
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort();
    outer.addEventListener('abort', onOuterAbort, { once: true });
    // stop() may have run between the list and here: an abort event that already fired is not replayed.
    if (outer.aborted) controller.abort();
    let watchdogFired = false;
    const fire = () => {
      watchdogFired = true;
      this.stats.watchdogAborts++;
      controller.abort();
    };
    const deadline = setTimeout(fire, serverTimeout * 1000 + (this.options.watchdogGraceMs ?? 30_000));
    let idle: NodeJS.Timeout | undefined;
    const idleMs = this.options.idleTimeoutMs;
    const touch = () => {
      if (idleMs === undefined) return;
      if (idle) clearTimeout(idle);
      idle = setTimeout(fire, idleMs);
    };
    const started = Date.now();
    let events = 0;
    this.stats.watches++;
    try {
      touch();
      await this.client.stream(resourcePath(this.options.resource, this.options.namespace), {
        query: {
          ...this.selectorQuery(),
          watch: 1,
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: serverTimeout,
        },
        signal: controller.signal,
        onLine: (line) => {
          touch();
          events++;
          this.handleEvent(JSON.parse(line) as WatchEvent);
        },
      });
    } catch (err) {
      if (watchdogFired && !outer.aborted) {
        this.log.warn({ serverTimeout, idleMs }, 'watch stalled; watchdog aborted it');
        return false;
      }
      throw err;
    } finally {
      clearTimeout(deadline);
      if (idle) clearTimeout(idle);
      outer.removeEventListener('abort', onOuterAbort);
    }
    return events > 0 || Date.now() - started >= MIN_HEALTHY_WATCH_MS;
  }

  private handleEvent(event: WatchEvent): void {
    if (event.type === 'ERROR') {
      const status = event.object as { code?: number; message?: string; reason?: string };
      throw new ApiError(`watch error: ${status.message ?? 'unknown'}`, status.code ?? 500, status.reason);
    }
    const meta = (event.object as { metadata?: { resourceVersion?: string } } | undefined)?.metadata;
    if (event.type === 'BOOKMARK') {
      if (meta?.resourceVersion) this.resourceVersion = meta.resourceVersion;
      return;
    }
    const obj = this.parse(event.object);
    if (!obj) {
      if (meta?.resourceVersion) this.resourceVersion = meta.resourceVersion;
      return;
    }
    if (event.type === 'DELETED') {
      this.cache.remove(obj);
      this.dispatch('onDelete', obj);
    } else {
      const old = this.cache.upsert(obj);
      if (!old) this.dispatch('onAdd', obj);
      // A replayed event for a state we already hold is not an update.
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion)
        this.dispatch('onUpdate', old, obj);
    }
    if (obj.metadata.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
  }

  private parse(raw: unknown): T | undefined {
    const result = this.schema.safeParse(raw);
    if (result.success) return result.data;
    this.log.warn({ issues: result.error.issues.slice(0, 3) }, 'skipping an object that fails validation');
    return undefined;
  }

  private dispatch(kind: 'onAdd' | 'onDelete', obj: T): void;
  private dispatch(kind: 'onUpdate', oldObj: T, newObj: T): void;
  private dispatch(kind: keyof EventHandler<T>, a: T, b?: T): void {
    for (const handler of this.handlers) this.call(handler, kind, a, b);
  }

  private call(handler: EventHandler<T>, kind: keyof EventHandler<T>, a: T, b?: T): void {
    try {
      if (kind === 'onUpdate') handler.onUpdate?.(a, b ?? a);
      else handler[kind]?.(a);
    } catch (err) {
      // A faulty handler must not stop the informer for every other handler.
      this.log.error({ err, key: objectKey(a) }, 'event handler threw');
    }
  }
}
