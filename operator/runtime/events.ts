// An event recorder writing core/v1 Events, with client-go's defences against a hot loop and a
// flood: identical events (object, type, reason, message) within a window become one Event whose
// count grows; writes are coalesced (many records, one PATCH); a per-object token bucket drops
// what is left of a flood; and the writes happen off the caller's path, a few at a time, from a
// bounded queue whose overflow is dropped and counted (client-go's broadcaster drops past 1,000
// queued events). Recording never blocks or fails the caller.
import { isNotFound, type KubeClient } from './client.js';
import { formatTime } from './conditions.js';
import { PatchType } from './status.js';
import type { KubeObject } from './objects.js';
import type { RuntimeMetrics } from './metrics.js';
import { silentLogger, type Logger } from './logger.js';

/** Normal or Warning. */
export type EventType = 'Normal' | 'Warning';

/** Options of {@link EventRecorder}. */
export interface EventRecorderOptions {
  /** `source.component` / `reportingComponent`, e.g. the controller's name. */
  component: string;
  /** `reportingInstance`. Default: the component. */
  instance?: string;
  /** Identical events within this window are folded into one. Default 10 minutes. */
  aggregationWindowMs?: number;
  /** Events an object may burst before throttling. Default 25. */
  burst?: number;
  /** One more event per object allowed every this often. Default 5 minutes. */
  refillIntervalMs?: number;
  /** Events recorded and not yet written (waiting or in flight) at most; a new one past it is dropped and counted. Default {@link DEFAULT_MAX_PENDING_EVENTS}. */
  maxPending?: number;
  /** Event writes in flight at once. Default {@link DEFAULT_EVENT_WRITERS}. */
  writers?: number;
  /** Written events remembered for folding (oldest forgotten first; a later repeat starts a new Event). Default 4,096, as client-go. */
  maxRemembered?: number;
  logger?: Logger;
  metrics?: RuntimeMetrics;
}

/**
 * Events waiting to be written at most: 30,000, three Events each for 10,000 sources created at
 * once (a few MB), so such a burst loses none while the API server is slow.
 */
export const DEFAULT_MAX_PENDING_EVENTS = 30_000;
/**
 * Event writes in flight at once: 2. Events share the API server with the status writes a user
 * waits for; two writers keep them flowing without taking the reconcile workers' share.
 */
export const DEFAULT_EVENT_WRITERS = 2;

interface Entry {
  namespace: string;
  name?: string;
  involved: Record<string, unknown>;
  type: EventType;
  reason: string;
  message: string;
  count: number;
  written: number;
  first: Date;
  last: Date;
}

/** What the recorder did so far (the same figures as its metrics, for tests and logs). */
export interface EventRecorderStats {
  /** Events created (POST) and updated with a new count (PATCH). */
  created: number;
  updated: number;
  /** Writes the API server refused or that failed (not retried: events are best effort). */
  failed: number;
  /** Recorded events dropped because {@link EventRecorderOptions.maxPending} were waiting. */
  droppedQueueFull: number;
  /** Recorded events dropped by the per-object token bucket. */
  droppedRateLimited: number;
}

/** Records Events about objects, aggregated, rate limited and written asynchronously. */
export class EventRecorder {
  /** Every event known, oldest first: the ones waiting, in flight, and written ones kept for folding. */
  private readonly entries = new Map<string, Entry>();
  /** Keys waiting to be written, in the order recorded (never one in flight: see {@link inFlight}). */
  private readonly dirty = new Set<string>();
  /** Keys being written: a repeat meanwhile waits for the write to end, so one Event is never created twice. */
  private readonly inFlight = new Set<string>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private writersRunning = 0;
  private idle: Array<() => void> = [];
  /** Entries count at which written entries are forgotten again (amortises the scan). */
  private forgetAt: number;
  private readonly log: Logger;
  private serial = 0;
  readonly stats: EventRecorderStats = {
    created: 0,
    updated: 0,
    failed: 0,
    droppedQueueFull: 0,
    droppedRateLimited: 0,
  };

  constructor(
    private readonly client: KubeClient,
    private readonly options: EventRecorderOptions,
  ) {
    this.log = (options.logger ?? silentLogger()).child({ recorder: options.component });
    this.forgetAt = this.maxRemembered;
  }

  private get maxRemembered(): number {
    return this.options.maxRemembered ?? 4096;
  }

  /** Records an event about `obj` (which needs apiVersion and kind). Fire and forget. */
  event(obj: KubeObject, type: EventType, reason: string, message: string): void {
    const now = new Date();
    const uid = obj.metadata.uid ?? `${obj.metadata.namespace}/${obj.metadata.name}`;
    message = message.length > 1024 ? `${message.slice(0, 1021)}...` : message;
    const key = `${uid}\u0000${type}\u0000${reason}\u0000${message}`;
    const entry = this.entries.get(key);
    const window = this.options.aggregationWindowMs ?? 600_000;
    if (entry && now.getTime() - entry.last.getTime() < window) {
      entry.count++;
      entry.last = now;
      // Most recently used last: the oldest entries are the ones forgotten.
      this.entries.delete(key);
      this.entries.set(key, entry);
      this.options.metrics?.eventsAggregated.inc({ outcome: 'folded' });
    } else {
      if (this.pending >= (this.options.maxPending ?? DEFAULT_MAX_PENDING_EVENTS)) {
        this.stats.droppedQueueFull++;
        this.options.metrics?.eventsAggregated.inc({ outcome: 'queue_full' });
        // Once per thousand, not once per event: a flood must not become a flood of logs.
        if (this.stats.droppedQueueFull % 1000 === 1)
          this.log.warn(
            { dropped: this.stats.droppedQueueFull, pending: this.pending },
            'events dropped: too many waiting to be written',
          );
        return;
      }
      if (!this.allow(uid, now.getTime())) {
        this.stats.droppedRateLimited++;
        this.options.metrics?.eventsAggregated.inc({ outcome: 'dropped' });
        this.log.debug({ reason }, 'event dropped by the per-object rate limit');
        return;
      }
      this.entries.delete(key);
      this.entries.set(key, {
        namespace: obj.metadata.namespace ?? 'default',
        involved: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: obj.metadata.name,
          namespace: obj.metadata.namespace,
          uid: obj.metadata.uid,
          resourceVersion: obj.metadata.resourceVersion,
        },
        type,
        reason,
        message,
        count: 1,
        written: 0,
        first: now,
        last: now,
      });
    }
    // One in flight is queued again when its write ends (the count it wrote is behind).
    if (!this.inFlight.has(key)) this.dirty.add(key);
    this.forgetOld(now.getTime());
    this.startWriters();
  }

  /** Records a Normal event. */
  normal(obj: KubeObject, reason: string, message: string): void {
    this.event(obj, 'Normal', reason, message);
  }

  /** Records a Warning event. */
  warning(obj: KubeObject, reason: string, message: string): void {
    this.event(obj, 'Warning', reason, message);
  }

  /** Events recorded and not yet written: waiting, or in flight. */
  get pending(): number {
    return this.dirty.size + this.inFlight.size;
  }

  /** Resolves once every recorded event has been written (or failed). */
  async flush(): Promise<void> {
    if (this.writersRunning === 0 && this.dirty.size === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private startWriters(): void {
    const writers = Math.max(1, this.options.writers ?? DEFAULT_EVENT_WRITERS);
    while (this.writersRunning < writers && this.dirty.size > 0) {
      this.writersRunning++;
      void this.writeLoop().finally(() => {
        this.writersRunning--;
        if (this.writersRunning === 0 && this.dirty.size === 0)
          for (const done of this.idle.splice(0)) done();
        else this.startWriters();
      });
    }
  }

  private async writeLoop(): Promise<void> {
    while (this.dirty.size > 0) {
      const key = this.dirty.values().next().value as string;
      this.dirty.delete(key);
      const entry = this.entries.get(key);
      if (!entry || entry.written === entry.count) continue;
      this.inFlight.add(key);
      try {
        await this.write(entry);
      } finally {
        this.inFlight.delete(key);
        // Folded into while it was written: its new count goes out as a PATCH.
        if (this.entries.get(key) === entry && entry.written !== entry.count) this.dirty.add(key);
      }
    }
  }

  private allow(uid: string, now: number): boolean {
    const burst = this.options.burst ?? 25;
    const b = this.buckets.get(uid) ?? { tokens: burst, at: now };
    b.tokens = this.refilled(b, now);
    b.at = now;
    this.buckets.set(uid, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private refilled(b: { tokens: number; at: number }, now: number): number {
    const refill = this.options.refillIntervalMs ?? 300_000;
    return Math.min(this.options.burst ?? 25, b.tokens + (now - b.at) / refill);
  }

  /**
   * Forgets written entries, oldest first, down to {@link EventRecorderOptions.maxRemembered}, and
   * token buckets that are full again (the object's next event would find a fresh one anyway).
   * Runs only when the map has grown by a quarter of the bound since the last time.
   */
  private forgetOld(now: number): void {
    if (this.entries.size <= this.forgetAt) return;
    const max = this.maxRemembered;
    for (const key of this.entries.keys()) {
      if (this.entries.size <= max) break;
      if (!this.dirty.has(key) && !this.inFlight.has(key)) this.entries.delete(key);
    }
    const burst = this.options.burst ?? 25;
    for (const [uid, b] of this.buckets) if (this.refilled(b, now) >= burst) this.buckets.delete(uid);
    this.forgetAt = this.entries.size + Math.max(64, max >> 2);
  }

  private async write(e: Entry): Promise<void> {
    const count = e.count;
    const base = `/api/v1/namespaces/${e.namespace}/events`;
    try {
      if (e.name) {
        try {
          await this.client.request('PATCH', `${base}/${e.name}`, {
            contentType: PatchType.merge,
            body: { count, lastTimestamp: formatTime(e.last) },
          });
          e.written = count;
          this.stats.updated++;
          this.options.metrics?.eventsWritten.inc({ outcome: 'updated' });
          return;
        } catch (err) {
          // The Event expired (TTL) or was deleted: start a new one.
          if (!isNotFound(err)) throw err;
        }
      }
      const name = `${String(e.involved.name)}.${(Date.now() * 1000 + (this.serial++ % 1000)).toString(16)}`;
      await this.client.request('POST', base, {
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name, namespace: e.namespace },
          involvedObject: e.involved,
          type: e.type,
          reason: e.reason,
          message: e.message,
          count,
          firstTimestamp: formatTime(e.first),
          lastTimestamp: formatTime(e.last),
          source: { component: this.options.component },
          reportingComponent: this.options.component,
          reportingInstance: this.options.instance ?? this.options.component,
        },
      });
      e.name = name;
      e.written = count;
      this.stats.created++;
      this.options.metrics?.eventsWritten.inc({ outcome: 'created' });
    } catch (err) {
      this.stats.failed++;
      this.options.metrics?.eventsWritten.inc({ outcome: 'failed' });
      this.log.warn({ err: (err as Error).message, reason: e.reason }, 'could not write an event');
      e.written = count; // do not retry forever: events are best effort
    }
  }
}
