// The adapter's observable state: the configuration in force (interval, paused, generation)
// and the delivery counters. One place owns it so the notification, metrics and logs agree.
import { formatDuration } from '../contract/duration.js';
import type { AdapterState, Generation } from '../contract/commands.js';
import { sameSink, type AdapterSink } from '../contract/adapter-sink.js';
import { deliveryFailureReason } from './failure-reason.js';

/** What kind of change happened: config changes are published at once, counters rate-limited. */
export type ChangeKind = 'config' | 'counters';

/** The adapter's mutable state with change listeners. */
export class StateStore {
  private intervalMs: number;
  private paused: boolean;
  private generation: Generation = 0;
  private sinkInForce: AdapterSink | undefined;
  private sent = 0;
  private dropped = 0;
  private retried = 0;
  private lastError: string | null = null;
  // Delivery health for the operator's SinkReachable condition (issue 13).
  private failureReason: string | null = null;
  private failuresInARow = 0;
  private successesInARow = 0;
  /** The heartbeat's last sequence, reported in the snapshot once set (a dedicated adapter sets it). */
  private sequenceOf: (() => number) | undefined;
  // Created on the first listener: a pool pod's thousands of stores have none.
  private listeners: Set<(kind: ChangeKind) => void> | undefined;

  constructor(
    private readonly podName: string,
    initial: { intervalMs: number; paused: boolean; sink?: AdapterSink },
  ) {
    this.intervalMs = initial.intervalMs;
    this.paused = initial.paused;
    this.sinkInForce = initial.sink;
  }

  /** The sink in force (the environment's, or the last applied ApplyState's); undefined if never given. */
  get sink(): AdapterSink | undefined {
    return this.sinkInForce;
  }

  /** A snapshot in the AdapterState notification's shape. */
  snapshot(): AdapterState {
    return {
      podName: this.podName,
      interval: formatDuration(this.intervalMs),
      intervalMs: this.intervalMs,
      paused: this.paused,
      generation: this.generation,
      eventsSent: this.sent,
      eventsDropped: this.dropped,
      eventsRetried: this.retried,
      lastSendError: this.lastError,
      lastSendFailureReason: this.failureReason,
      consecutiveFailures: this.failuresInARow,
      consecutiveSuccesses: this.successesInARow,
      ...(this.sinkInForce ? { sinkUri: this.sinkInForce.uri } : {}),
      ...(this.sequenceOf ? { lastSequence: this.sequenceOf() } : {}),
    };
  }

  /** Reports `sequence()` as `lastSequence` in every snapshot from now on. */
  reportSequence(sequence: () => number): void {
    this.sequenceOf = sequence;
  }

  get appliedGeneration(): Generation {
    return this.generation;
  }

  /** Registers a listener; returns a function that removes it. */
  onChange(listener: (kind: ChangeKind) => void): () => void {
    const listeners = (this.listeners ??= new Set());
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  /** Records an applied configuration; notifies only if something changed. */
  applyConfig(change: {
    generation?: Generation;
    intervalMs?: number;
    paused?: boolean;
    sink?: AdapterSink;
  }): void {
    const before = [this.generation, this.intervalMs, this.paused];
    const sinkBefore = this.sinkInForce;
    if (change.generation !== undefined) this.generation = change.generation;
    if (change.intervalMs !== undefined) this.intervalMs = change.intervalMs;
    if (change.paused !== undefined) this.paused = change.paused;
    if (change.sink !== undefined) this.sinkInForce = change.sink;
    if (
      before[0] !== this.generation ||
      before[1] !== this.intervalMs ||
      before[2] !== this.paused ||
      !sameSink(sinkBefore, this.sinkInForce)
    )
      this.emit('config');
  }

  /** Counts a delivered event; a success clears the last send error. */
  recordSent(): void {
    this.sent++;
    this.lastError = null;
    this.successesInARow++;
    this.failuresInARow = 0;
    this.emit('counters');
  }

  /** Counts a dropped event and remembers why (`reason`: the short cause, at most 64 characters so the notification stays valid). */
  recordDropped(error: string, reason: string = deliveryFailureReason({ error })): void {
    this.dropped++;
    this.lastError = error;
    this.failureReason = reason;
    this.failuresInARow++;
    this.successesInARow = 0;
    this.emit('counters');
  }

  /**
   * Counts a tick dropped because earlier sends are still in flight (a slow or failing sink). It is
   * not a delivery in the sink-health sense (nothing was attempted), so the run of failures and
   * its cause stay what the sends in flight report (a timeout, a certificate failure), not "still
   * in flight", which says nothing about the sink.
   */
  recordSkipped(error: string): void {
    this.dropped++;
    this.lastError = error;
    this.emit('counters');
  }

  /** Counts one retry of a send. */
  recordRetry(error: string): void {
    this.retried++;
    this.lastError = error;
    this.emit('counters');
  }

  private emit(kind: ChangeKind): void {
    if (this.listeners) for (const listener of this.listeners) listener(kind);
  }
}

/**
 * Calls `publish` at once for config changes and at most once per `minGapMs` (default 1 s,
 * trailing edge) for counter-only changes, so a busy sink does not flood the control stream.
 */
export class StatePublisher {
  private timer: NodeJS.Timeout | undefined;
  private lastPublished = 0;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: StateStore,
    private readonly publish: (state: AdapterState) => void,
    private readonly minGapMs = 1_000,
  ) {
    this.unsubscribe = store.onChange((kind) => (kind === 'config' ? this.publishNow() : this.publishSoon()));
  }

  /** Publishes the full state now (stream opened, config changed). */
  publishNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.lastPublished = Date.now();
    this.publish(this.store.snapshot());
  }

  private publishSoon(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastPublished + this.minGapMs - Date.now());
    this.timer = setTimeout(() => this.publishNow(), wait);
    this.timer.unref();
  }

  /** Stops publishing. */
  close(): void {
    this.unsubscribe();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
