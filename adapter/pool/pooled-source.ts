// One shared source on a pool pod: its own state, sender and heartbeat, the very classes a
// dedicated adapter runs (adapter/state.ts, sender.ts, heartbeat.ts), so cadence, retries and
// drops behave the same in both modes. The heartbeat's bounded in-flight set is this source's
// send queue: a slow sink drops this source's ticks (counted here) and delays no other source.
import type { Logger } from 'pino';
import { heartbeatSource } from '../../contract/cloudevents.js';
import { parseInterval, type Generation } from '../../contract/commands.js';
import type { PooledSourceState, SourceAssignment } from '../../contract/pool.js';
import { Heartbeat } from '../heartbeat.js';
import type { AdapterMetrics } from '../metrics.js';
import { SinkSender, type RetryPolicy } from '../sender.js';
import { StateStore } from '../state.js';

/** What every source on the pod shares. */
export interface PooledSourceContext {
  podName: string;
  /** Per-source heartbeat logs go here (a pool keeps this at warn: 10,000 sources at info would flood). */
  heartbeatLogger: Logger;
  metrics: AdapterMetrics;
  retry: RetryPolicy;
  /** Concurrent sends per source before its ticks are dropped. Default 2. */
  maxInFlight?: number;
}

/** Splits "namespace/name". */
function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** A running shared source. */
export class PooledSource {
  readonly key: string;
  readonly uid: string;
  private readonly store: StateStore;
  private readonly heartbeat: Heartbeat;
  private readonly sinkUri: string;
  private readonly extensionsJson: string;

  constructor(assignment: SourceAssignment, context: PooledSourceContext) {
    this.key = assignment.key;
    this.uid = assignment.uid;
    this.sinkUri = assignment.sink.uri;
    this.extensionsJson = JSON.stringify(assignment.ceExtensions);
    const { namespace, name } = splitKey(assignment.key);
    this.store = new StateStore(context.podName, {
      intervalMs: parseInterval(assignment.interval),
      paused: assignment.paused,
    });
    this.store.applyConfig({ generation: assignment.generation });
    const sender = new SinkSender(new URL(assignment.sink.uri), context.retry, {
      onAttempt: (ms, ok) =>
        context.metrics.sendDuration.observe({ result: ok ? 'success' : 'error' }, ms / 1000),
      onRetry: (_attempt, _delay, reason) => {
        context.metrics.eventsRetried.inc();
        this.store.recordRetry(reason);
      },
    });
    this.heartbeat = new Heartbeat({
      source: heartbeatSource(namespace, name),
      podName: context.podName,
      extensions: assignment.ceExtensions,
      store: this.store,
      send: (event, signal) => sender.send(event, signal),
      logger: context.heartbeatLogger,
      metrics: context.metrics,
      maxInFlight: context.maxInFlight,
      firstSequence: assignment.lastSequence,
    });
    this.heartbeat.start();
  }

  /** True when `next` can be applied in place (same incarnation, same sink and extensions). */
  canApply(next: SourceAssignment): boolean {
    return (
      next.uid === this.uid &&
      next.sink.uri === this.sinkUri &&
      JSON.stringify(next.ceExtensions) === this.extensionsJson
    );
  }

  /** Applies interval, paused and generation; an older generation than the one applied is ignored. Returns true if applied. */
  apply(next: SourceAssignment): boolean {
    if (next.generation < this.store.appliedGeneration) return false;
    this.store.applyConfig({
      generation: next.generation,
      intervalMs: parseInterval(next.interval),
      paused: next.paused,
    });
    this.heartbeat.sync();
    return true;
  }

  /** Generation applied. */
  get generation(): Generation {
    return this.store.appliedGeneration;
  }

  /**
   * Stops ticking and waits (up to `deadlineMs`) for this source's in-flight sends; resolves to
   * the last sequence used. After it resolves this pod emits nothing more for the source.
   */
  async stop(deadlineMs: number): Promise<number> {
    await this.heartbeat.stop(deadlineMs);
    return this.heartbeat.lastSequence;
  }

  /** The source's entry in the PoolState notification. */
  snapshot(): PooledSourceState {
    const s = this.store.snapshot();
    return {
      key: this.key,
      uid: this.uid,
      generation: s.generation,
      intervalMs: s.intervalMs,
      paused: s.paused,
      lastSequence: this.heartbeat.lastSequence,
      eventsSent: s.eventsSent,
      eventsDropped: s.eventsDropped,
      lastSendError: s.lastSendError,
    };
  }
}
