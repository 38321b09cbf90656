// The heartbeat emitter: on every tick, build a CloudEvent compatible with upstream
// sample-source and hand it to the sender, never letting a slow sink stack up more than
// `maxInFlight` concurrent sends (a tick that finds them all busy is dropped, not queued).
import { randomUUID } from 'node:crypto';
import { CloudEvent } from 'cloudevents';
import type { Logger } from 'pino';
import { HEARTBEAT_EVENT_TYPE } from '../contract/cloudevents.js';
import type { Clock } from '../control/clock.js';
import { formatDuration } from '../contract/duration.js';
import { deliveryFailureReason } from './failure-reason.js';
import type { AdapterMetrics } from './metrics.js';
import type { SendOutcome } from './sender.js';
import type { StateStore } from './state.js';
import { Ticker } from './ticker.js';

/** The JSON data of every heartbeat. */
export interface HeartbeatData {
  /** 1, 2, 3, … per adapter process (per source in a pool, continued across owners); a gap at the sink means a dropped event. */
  sequence: number;
  /** Interval in force, Go duration ("10s"). */
  interval: string;
  intervalMs: number;
  /** Upstream sample-source's field for the interval, kept for its consumers. */
  heartbeat: string;
  /** The pod that sent it (sequences are per pod, or per source in a pool). */
  podName: string;
}

/** What the emitter needs. */
export interface HeartbeatOptions {
  /** CloudEvent source attribute. */
  source: string;
  podName: string;
  /** Extension attributes from K_CE_OVERRIDES. */
  extensions: Record<string, string>;
  store: StateStore;
  send(event: CloudEvent<HeartbeatData>, signal: AbortSignal): Promise<SendOutcome>;
  logger: Logger;
  metrics?: AdapterMetrics;
  /** Concurrent sends allowed before ticks are dropped. Default 2. */
  maxInFlight?: number;
  /** Sequence already used by a previous emitter of this source; the first event is this + 1. Default 0. */
  firstSequence?: number;
  /** The ticker's time and timers (a pool pod shares one timer among its sources). Default the system clock. */
  clock?: Clock;
}

/** Emits heartbeats at the store's interval while not paused. */
export class Heartbeat {
  private readonly ticker: Ticker;
  // An array, not a Set: it holds at most maxInFlight sends, and a pool pod holds thousands of
  // heartbeats (an empty Set costs about 150 B, an empty array 16 B).
  private readonly inFlight: Promise<void>[] = [];
  private readonly abort = new AbortController();
  private sequence = 0;
  private stopped = false;
  private readonly maxInFlight: number;

  constructor(private readonly options: HeartbeatOptions) {
    this.maxInFlight = options.maxInFlight ?? 2;
    this.sequence = options.firstSequence ?? 0;
    this.ticker = new Ticker(options.store.snapshot().intervalMs, () => this.tick(), options.clock);
  }

  /** Starts ticking unless the store says paused. */
  start(): void {
    this.sync();
  }

  /** Brings the ticker in line with the store (interval and paused); call after each applied config. */
  sync(): void {
    if (this.stopped) return;
    const { intervalMs, paused } = this.options.store.snapshot();
    this.ticker.setInterval(intervalMs);
    if (paused) this.ticker.stop();
    else this.ticker.start();
  }

  /** Last sequence number used (sent, in flight or dropped); `firstSequence` before the first tick. */
  get lastSequence(): number {
    return this.sequence;
  }

  /** Numbers the next heartbeat above `floor` (a sequence another emitter of the source used); never lowers it. */
  raiseSequence(floor: number): void {
    if (floor > this.sequence) this.sequence = floor;
  }

  /** Number of sends in progress. */
  get sendsInFlight(): number {
    return this.inFlight.length;
  }

  /**
   * Stops ticking, waits up to `deadlineMs` for in-flight sends, then abandons the rest
   * (counted as dropped). Resolves once nothing is in flight.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.stopped = true;
    this.ticker.stop();
    if (this.inFlight.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)));
      await Promise.race([Promise.allSettled([...this.inFlight]), deadline]);
      clearTimeout(timer);
    }
    this.abort.abort(new Error('adapter shutting down'));
    await Promise.allSettled([...this.inFlight]);
  }

  private tick(): void {
    try {
      this.emit();
    } catch (err) {
      // Never let one bad event stop the ticker (it runs from a timer: a throw would crash the process).
      const message = (err as Error).message;
      this.options.metrics?.eventsDropped.inc({ reason: 'send_failed' });
      this.options.store.recordDropped(message);
      this.options.logger.error({ err }, `heartbeat not built: ${message}`);
    }
  }

  private emit(): void {
    const { store, logger, metrics } = this.options;
    const state = store.snapshot();
    const sequence = ++this.sequence;
    if (this.inFlight.length >= this.maxInFlight) {
      const error = `${this.inFlight.length} sends still in flight`;
      metrics?.eventsDropped.inc({ reason: 'busy' });
      store.recordSkipped(`sink too slow: ${error}`);
      logger.warn(
        { sequence, inFlight: this.inFlight.length },
        `heartbeat #${sequence} dropped: sink too slow (${error})`,
      );
      return;
    }
    const interval = formatDuration(state.intervalMs);
    const event = new CloudEvent<HeartbeatData>({
      ...this.options.extensions,
      id: randomUUID(),
      type: HEARTBEAT_EVENT_TYPE,
      source: this.options.source,
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      data: {
        sequence,
        interval,
        intervalMs: state.intervalMs,
        heartbeat: interval,
        podName: this.options.podName,
      },
    });
    const sending = this.deliver(event, sequence, interval).finally(() => {
      const at = this.inFlight.indexOf(sending);
      if (at >= 0) void this.inFlight.splice(at, 1);
    });
    this.inFlight.push(sending);
  }

  private async deliver(event: CloudEvent<HeartbeatData>, sequence: number, interval: string): Promise<void> {
    const { store, logger, metrics } = this.options;
    const outcome = await this.options.send(event, this.abort.signal);
    if (outcome.ok) {
      metrics?.eventsSent.inc();
      store.recordSent();
      const retried = outcome.attempts > 1 ? ` after ${outcome.attempts} attempts` : '';
      logger.info(
        {
          sequence,
          id: event.id,
          interval,
          status: outcome.status,
          attempts: outcome.attempts,
          latencyMs: Math.round(outcome.latencyMs),
        },
        `heartbeat #${sequence} sent (every ${interval}) → ${outcome.status} in ${Math.round(outcome.latencyMs)}ms${retried}`,
      );
      return;
    }
    const reason = outcome.aborted ? 'shutdown' : outcome.noToken ? 'no_token' : 'send_failed';
    metrics?.eventsDropped.inc({ reason });
    store.recordDropped(outcome.error, deliveryFailureReason(outcome));
    logger.warn(
      {
        sequence,
        id: event.id,
        interval,
        attempts: outcome.attempts,
        status: outcome.status,
        error: outcome.error,
      },
      `heartbeat #${sequence} dropped after ${outcome.attempts} attempt(s): ${outcome.error}`,
    );
  }
}
