// One shared source on a pool pod: its own state, sender and heartbeat, the very classes a
// dedicated adapter runs (adapter/state.ts, sender.ts, heartbeat.ts), so cadence, retries and
// drops behave the same in both modes. The heartbeat's bounded in-flight set is this source's
// send queue: a slow sink drops this source's ticks (counted here) and delays no other source.
// What thousands of sources need only once is shared through the context: one timer
// (shared-timers.ts) and one connection pool per CA set (shared-sinks.ts).
import type { Logger } from 'pino';
import { SYSTEM_CLOCK, type Clock, type ClockTimer } from '../../control/clock.js';
import { heartbeatSource } from '../../contract/cloudevents.js';
import { parseInterval, type Generation } from '../../contract/commands.js';
import type { PooledSourceState, SourceAssignment } from '../../contract/pool.js';
import { Heartbeat } from '../heartbeat.js';
import type { AdapterMetrics } from '../metrics.js';
import { SinkSender, type RetryPolicy, type SendHooks } from '../sender.js';
import { StateStore } from '../state.js';
import type { SharedSink, SharedSinks } from './shared-sinks.js';

/** Latest first tick after a source is assigned: 30 s (it is never later than one interval). */
export const MAX_START_PHASE_MS = 30_000;

/** What every source on the pod shares. */
export interface PooledSourceContext {
  podName: string;
  /** Per-source heartbeat logs go here (a pool keeps this at warn: 10,000 sources at info would flood). */
  heartbeatLogger: Logger;
  metrics: AdapterMetrics;
  retry: RetryPolicy;
  /** Concurrent sends per source before its ticks are dropped. Default 2. */
  maxInFlight?: number;
  /**
   * Timers of every source's ticker and first tick (a SharedTimers). Default the system clock:
   * a Node timer per source, the layout before issue 12's memory work (kept for the benchmark).
   */
  timers?: Clock;
  /** Connection pools and URLs shared per CA set. Default: each source's sender owns its own. */
  sinks?: SharedSinks;
}

/** `JSON.stringify({})`, kept once: most sources have no extensions. */
const NO_EXTENSIONS = '{}';
/** One empty extensions object for every source that has none (each parsed assignment brings its own). */
const EMPTY_EXTENSIONS: Record<string, string> = Object.freeze({});

/** Splits "namespace/name". */
function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** A running shared source. It is its sender's hooks itself (methods, not closures per source). */
export class PooledSource implements SendHooks {
  readonly key: string;
  readonly uid: string;
  private readonly store: StateStore;
  private readonly heartbeat: Heartbeat;
  private readonly sender: SinkSender;
  private readonly sinkUri: string;
  private readonly caCerts: string;
  private readonly extensionsJson: string;
  /** The shared sink, handed back to `context.sinks` on stop. */
  private readonly sink: SharedSink | undefined;
  private startTimer: ClockTimer | undefined;

  constructor(
    assignment: SourceAssignment,
    private readonly context: PooledSourceContext,
  ) {
    this.key = assignment.key;
    this.uid = assignment.uid;
    const extensionsJson = JSON.stringify(assignment.ceExtensions);
    this.extensionsJson = extensionsJson === NO_EXTENSIONS ? NO_EXTENSIONS : extensionsJson;
    const { namespace, name } = splitKey(assignment.key);
    const sink = context.sinks?.acquire(assignment.sink.uri, assignment.sink.caCerts);
    this.sink = sink;
    // The shared entry's strings, not this assignment's copies (a CA bundle can be kilobytes).
    this.sinkUri = sink?.uri ?? assignment.sink.uri;
    this.caCerts = sink?.caCerts ?? assignment.sink.caCerts ?? '';
    this.store = new StateStore(context.podName, {
      intervalMs: parseInterval(assignment.interval),
      paused: assignment.paused,
    });
    this.store.applyConfig({ generation: assignment.generation });
    this.sender = new SinkSender(
      sink?.url ?? new URL(assignment.sink.uri),
      context.retry,
      this,
      undefined,
      sink
        ? { dispatcher: sink.dispatcher }
        : assignment.sink.caCerts
          ? { caCerts: assignment.sink.caCerts }
          : {},
    );
    this.heartbeat = new Heartbeat({
      source: heartbeatSource(namespace, name),
      podName: context.podName,
      extensions: this.extensionsJson === NO_EXTENSIONS ? EMPTY_EXTENSIONS : assignment.ceExtensions,
      store: this.store,
      send: (event, signal) => this.sender.send(event, signal),
      logger: context.heartbeatLogger,
      metrics: context.metrics,
      maxInFlight: context.maxInFlight,
      firstSequence: assignment.lastSequence,
      clock: context.timers,
    });
    // Thousands of sources assigned at once must not all fire their first tick together (a
    // burst of thousands of sends that starves the control stream): each starts at a random
    // phase within its interval, so a pool's load is spread evenly from the first second.
    const phase = Math.random() * Math.min(parseInterval(assignment.interval), MAX_START_PHASE_MS);
    this.startTimer = (context.timers ?? SYSTEM_CLOCK).setTimer(() => {
      this.startTimer = undefined;
      this.heartbeat.start();
    }, phase);
  }

  /** SendHooks: every attempt's duration, pool-wide. */
  onAttempt(ms: number, ok: boolean): void {
    this.context.metrics.sendDuration.observe({ result: ok ? 'success' : 'error' }, ms / 1000);
  }

  /** SendHooks: a retry, pool-wide and on this source. */
  onRetry(_attempt: number, _delayMs: number, reason: string): void {
    this.context.metrics.eventsRetried.inc();
    this.store.recordRetry(reason);
  }

  /** True when `next` can be applied in place (same incarnation, same sink, CA set and extensions). */
  canApply(next: SourceAssignment): boolean {
    return (
      next.uid === this.uid &&
      next.sink.uri === this.sinkUri &&
      (next.sink.caCerts ?? '') === this.caCerts &&
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
    // Before its first tick the delayed start picks the new configuration up by itself.
    if (!this.startTimer) this.heartbeat.sync();
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
    this.startTimer?.cancel();
    this.startTimer = undefined;
    await this.heartbeat.stop(deadlineMs);
    await this.sender.close();
    // Nothing of this source is in flight any more: its share of the connections can go.
    if (this.sink) await this.context.sinks?.release(this.sink);
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
