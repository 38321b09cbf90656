// An event recorder writing core/v1 Events, with client-go's defences against a hot loop:
// identical events (object, type, reason, message) within a window become one Event whose
// count grows; writes are coalesced (many records, one PATCH); and a per-object token bucket
// drops what is left of a flood. Recording never blocks or fails the caller.
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
  logger?: Logger;
  metrics?: RuntimeMetrics;
}

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

/** Records Events about objects, aggregated and rate limited. */
export class EventRecorder {
  private readonly entries = new Map<string, Entry>();
  private readonly dirty = new Set<string>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private draining?: Promise<void>;
  private readonly log: Logger;
  private serial = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly options: EventRecorderOptions,
  ) {
    this.log = (options.logger ?? silentLogger()).child({ recorder: options.component });
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
      this.options.metrics?.eventsAggregated.inc({ outcome: 'folded' });
    } else {
      if (!this.allow(uid, now.getTime())) {
        this.options.metrics?.eventsAggregated.inc({ outcome: 'dropped' });
        this.log.debug({ reason }, 'event dropped by the per-object rate limit');
        return;
      }
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
    this.dirty.add(key);
    this.pruneOld(now.getTime(), window);
    this.kick();
  }

  private kick(): void {
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
      // Something may have been recorded between the loop's last check and now.
      if (this.dirty.size > 0) this.kick();
    });
  }

  /** Records a Normal event. */
  normal(obj: KubeObject, reason: string, message: string): void {
    this.event(obj, 'Normal', reason, message);
  }

  /** Records a Warning event. */
  warning(obj: KubeObject, reason: string, message: string): void {
    this.event(obj, 'Warning', reason, message);
  }

  /** Resolves once every recorded event has been written (or failed). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private allow(uid: string, now: number): boolean {
    const burst = this.options.burst ?? 25;
    const refill = this.options.refillIntervalMs ?? 300_000;
    const b = this.buckets.get(uid) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + (now - b.at) / refill);
    b.at = now;
    this.buckets.set(uid, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private pruneOld(now: number, window: number): void {
    if (this.entries.size < 4096) return;
    for (const [key, e] of this.entries)
      if (now - e.last.getTime() > window && !this.dirty.has(key)) this.entries.delete(key);
  }

  private async drain(): Promise<void> {
    while (this.dirty.size > 0) {
      const key = this.dirty.values().next().value as string;
      this.dirty.delete(key);
      const entry = this.entries.get(key);
      if (entry && entry.written !== entry.count) await this.write(entry);
    }
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
    } catch (err) {
      this.log.warn({ err: (err as Error).message, reason: e.reason }, 'could not write an event');
      e.written = count; // do not retry forever: events are best effort
    }
  }
}
