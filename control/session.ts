// The reliability machinery both ends share: outbox with ordered resend, in-flight window, ack
// waiting with timeouts and aborts, receiver dedup and in-order handling. A session outlives its
// streams: a reconnect attaches a new Link and everything unacked goes out again.
import type { Logger } from 'pino';
import { SYSTEM_CLOCK, type Clock, type ClockTimer } from './clock.js';
import { DedupWindow } from './dedup.js';
import {
  AbortError,
  ClosedError,
  CommandRejectedError,
  MessageTooLargeError,
  OutboxFullError,
  TimeoutError,
  errorMessage,
} from './errors.js';
import type { PeerLimits } from './handshake.js';
import type { ResolvedLimits } from './limits.js';
import type { Link } from './link.js';
import { refusals } from './refusals.js';
import type { ControlMetrics } from './metrics.js';
import { Outbox } from './outbox.js';
import type { OutboxEntry } from './outbox.js';
import type {
  AckErrorValue,
  CommandValue,
  Envelope__Output,
  Frame,
  NotificationValue,
  ResultValue,
} from './wire.js';
import { frameSize, isUndecodable, parseFrame } from './wire.js';

export type { Limits, ResolvedLimits } from './limits.js';
export { resolveLimits } from './limits.js';

/** An inbound reliable frame handed to the session's owner. */
export type InboundReliable =
  { kind: 'command'; command: CommandValue } | { kind: 'result'; result: ResultValue };

/** What the owner's handler returns: null = ack, an error = rejection. May be a promise. */
export type ReliableOutcome = AckErrorValue | null | Promise<AckErrorValue | null>;

/** Options of a reliable send. */
export interface SendOptions {
  signal?: AbortSignal | undefined;
  /** Time to wait for the ack; 0 = forever. Default 30 s. */
  timeoutMs?: number | undefined;
  /** When the outbox is full: wait for room (back-pressure) or fail fast. Default 'wait'. */
  onFull?: 'wait' | 'fail' | undefined;
}

export interface SessionOptions {
  id: string;
  limits: ResolvedLimits;
  logger: Logger;
  metrics: ControlMetrics;
  onReliable(frame: InboundReliable): ReliableOutcome;
  onNotification?(notification: NotificationValue): void;
  /** What ack deadlines and round trips are measured on. Default: the system clock. */
  clock?: Clock;
}

/** Counts for tests and debugging: every one of them is bounded by a limit. */
export interface SessionStats {
  outbox: number;
  inFlight: number;
  dedup: number;
  inbound: number;
  backlog: number;
}

interface Waiting {
  deadline: number;
  expire(): void;
}

/** Reliable session state, independent of any one stream. */
export class Session {
  readonly id: string;
  readonly logger: Logger;
  private readonly outbox: Outbox;
  private readonly dedup: DedupWindow;
  private link: Link | null = null;
  private closed = false;
  // In-order inbound queue (ids in progress are answered by their eventual ack, not run again).
  private inbound: Array<InboundReliable | undefined> = [];
  private inboundHead = 0;
  private draining = false;
  private readonly inProgress = new Set<string>();
  private readonly spaceWaiters = new Set<() => void>();
  // One timer for all ack deadlines instead of one per message.
  private readonly waiting = new Set<Waiting>();
  private timer: ClockTimer | undefined;
  private readonly clock: Clock;
  private timerAt = Infinity;
  // Largest frame we may send: our limit or the peer's, whichever is smaller (less room for the envelope).
  private sendLimit: number;

  constructor(private readonly options: SessionOptions) {
    this.id = options.id;
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.logger = options.logger;
    this.outbox = new Outbox(options.limits.maxOutbox, options.limits.maxInFlight);
    this.dedup = new DedupWindow(options.limits.dedupWindow);
    this.sendLimit = options.limits.maxMessageBytes - 512;
  }

  get attached(): boolean {
    return this.link !== null;
  }

  stats(): SessionStats {
    return {
      outbox: this.outbox.size,
      inFlight: this.outbox.inFlight,
      dedup: this.dedup.size,
      inbound: this.inbound.length - this.inboundHead,
      backlog: this.link?.backlog ?? 0,
    };
  }

  /**
   * A new stream carries this session from now on; unacked messages are written again, in order, within the peer's
   * advertised limits: in flight at most its window, queued at most its dedup window, frames at most its largest message.
   */
  attach(link: Link, peer: PeerLimits): void {
    this.link?.close();
    this.link = link;
    const own = this.options.limits;
    this.outbox.setLimits(
      Math.min(own.maxOutbox, peer.dedupWindow),
      Math.min(own.maxInFlight, peer.maxInFlight),
    );
    this.sendLimit = Math.min(own.maxMessageBytes, peer.maxMessageBytes) - 512;
    this.outbox.rewind();
    this.pump();
  }

  /** The stream ended; reliable messages stay in the outbox for the next one. */
  detach(link: Link): void {
    link.close();
    if (this.link === link) this.link = null;
  }

  /**
   * Queues a reliable frame and resolves (to `value`) when the peer acks it; rejects with CommandRejectedError on an
   * error ack, TimeoutError (message stays queued), AbortError (message dropped), OutboxFullError or
   * MessageTooLargeError. Resolving to the caller's value saves it a `.then` (a promise and a hop) per message.
   */
  sendReliable<T = void>(id: string, frame: Frame, options: SendOptions = {}, value?: T): Promise<T> {
    if (this.closed) return Promise.reject(new ClosedError('session closed'));
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(new AbortError());
    const size = frameSize(frame);
    // Leave room for the envelope and the other frames of a batch.
    const limit = this.sendLimit;
    if (size > limit) return Promise.reject(new MessageTooLargeError(size, limit));
    const timeoutMs = options.timeoutMs ?? 30_000;
    const deadline = timeoutMs > 0 ? this.clock.now() + timeoutMs : Infinity;
    const existing = this.outbox.get(id);
    if (existing) return this.awaitAck(existing, id, signal, deadline, timeoutMs, value as T);
    if (!this.outbox.full)
      return this.awaitAck(this.enqueue(id, frame, size), id, signal, deadline, timeoutMs, value as T);
    if ((options.onFull ?? 'wait') === 'fail')
      return Promise.reject(new OutboxFullError(this.options.limits.maxOutbox));
    // Slow path only: wait for room (back-pressure), then queue.
    return (async () => {
      while (this.outbox.full && !this.outbox.get(id)) {
        await this.waitForSpace(signal, deadline, id);
        if (this.closed) throw new ClosedError('session closed');
      }
      const entry = this.outbox.get(id) ?? this.enqueue(id, frame, size);
      return this.awaitAck(entry, id, signal, deadline, timeoutMs, value as T);
    })();
  }

  private enqueue(id: string, frame: Frame, size: number): OutboxEntry {
    const entry = this.outbox.add(id, frame, size);
    this.options.metrics.sent.inc();
    this.pump();
    return entry;
  }

  private awaitAck<T>(
    target: OutboxEntry,
    id: string,
    signal: AbortSignal | undefined,
    deadline: number,
    timeoutMs: number,
    value: T,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      // Closures for a deadline and an abort only when there is one (most sends have a deadline, few a signal).
      let waiting: Waiting | undefined;
      let onAbort: (() => void) | undefined;
      const finish = (outcome: AckErrorValue | null | Error): void => {
        if (settled) return;
        settled = true;
        if (waiting) this.waiting.delete(waiting);
        if (onAbort) signal!.removeEventListener('abort', onAbort);
        if (outcome === null) resolve(value);
        else if (outcome instanceof Error) reject(outcome);
        else reject(new CommandRejectedError(outcome.code, outcome.message, id));
      };
      target.waiters.push(finish);
      if (signal) {
        onAbort = (): void => {
          // The caller gave up on this message: stop resending it.
          if (this.outbox.get(id) === target) {
            this.outbox.remove(id);
            this.wakeSpaceWaiter();
            for (const w of target.waiters) if (w !== finish) w(new AbortError());
            target.waiters.length = 0;
          }
          finish(new AbortError());
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
      if (deadline !== Infinity) {
        waiting = {
          deadline,
          expire: () => finish(new TimeoutError(`no ack for ${id} within ${timeoutMs} ms`)),
        };
        this.addDeadline(waiting);
      }
    });
  }

  /** Writes a best-effort frame (notification) now if the stream keeps up; false when dropped. */
  sendBestEffort(frame: Frame): boolean {
    const link = this.link;
    if (!link || link.backlog >= link.highWater / 2) {
      this.options.metrics.dropped.inc();
      return false;
    }
    link.push(frame);
    return true;
  }

  /**
   * Handles one decoded envelope from `link` (hello already exchanged). A refusal (undecodable bytes, a frame without a
   * readable id, a second hello, the in-flight window exceeded) ends the stream; nothing after it is processed.
   */
  receive(envelope: Envelope__Output, link: Link): void {
    if (link !== this.link || link.isClosed) return; // a stream a reconnect replaced: the resend covers it
    if (isUndecodable(envelope)) {
      link.fail(refusals.undecodable(envelope.undecodable));
      return;
    }
    let acks = 0;
    for (const raw of envelope.frames) {
      const parsed = parseFrame(raw);
      if (!parsed.ok) {
        this.options.metrics.malformed.inc();
        this.logger.warn({ reason: parsed.reason, id: parsed.id }, 'malformed frame refused');
        if (parsed.kind === 'hello') {
          link.fail(refusals.secondHello());
          return;
        }
        if (parsed.id) {
          link.pushAck(
            parsed.id,
            { code: 'InvalidArgument', message: `malformed frame: ${parsed.reason}` },
            false,
          );
        } else if (parsed.kind === 'command' || parsed.kind === 'result') {
          // A reliable frame nobody can ack would leave its sender waiting: end the stream instead.
          link.fail(refusals.frameWithoutId(parsed.reason));
          return;
        }
        // Anything else (a bad ack or notification, a frame of no kind) has nobody waiting on an answer.
        continue;
      }
      const frame = parsed.frame;
      switch (frame.kind) {
        case 'ack':
          acks++;
          this.onAck(frame.ack.id, frame.ack.error);
          break;
        case 'command':
          this.receiveReliable(frame.command.id, frame, link);
          break;
        case 'result':
          this.receiveReliable(frame.result.id, frame, link);
          break;
        case 'notification':
          try {
            this.options.onNotification?.(frame.notification);
          } catch (err) {
            this.logger.error({ err: errorMessage(err) }, 'notification callback threw');
          }
          break;
        case 'hello':
          link.fail(refusals.secondHello());
          return;
      }
      if (link.isClosed) return;
    }
    if (acks > 0) link.noteAcksIn(acks);
    // After the frames: an id re-used in the same envelope as its receipt is still answered from the window.
    const receipt = Number(envelope.acksReceived || 0);
    if (receipt > 0) link.confirmAcks(receipt, (id) => this.dedup.confirm(id));
  }

  /** Fails every pending send with ClosedError and stops. */
  close(reason = 'session closed'): void {
    if (this.closed) return;
    this.closed = true;
    if (this.link) this.detach(this.link);
    for (const entry of [...this.outbox.values()]) {
      this.outbox.remove(entry.id);
      for (const w of entry.waiters) w(new ClosedError(reason));
    }
    for (const wake of this.spaceWaiters) wake();
    this.spaceWaiters.clear();
    this.timer?.cancel();
    this.waiting.clear();
  }

  private pump(): void {
    const link = this.link;
    if (!link) return;
    const now = this.clock.now();
    let entry;
    while ((entry = this.outbox.takeNext())) {
      if (entry.attempts++ > 0) this.options.metrics.resent.inc();
      entry.sentAt = now;
      link.push(entry.frame, entry.size);
    }
  }

  private onAck(id: string, error: AckErrorValue | null): void {
    const entry = this.outbox.remove(id);
    if (!entry) return; // late duplicate ack, or aborted meanwhile
    const m = this.options.metrics;
    m.rtt.observe((this.clock.now() - entry.sentAt) / 1000);
    if (error) m.rejected.inc();
    else m.acked.inc();
    for (const w of entry.waiters) w(error);
    this.wakeSpaceWaiter();
    this.pump();
  }

  private sendAck(id: string, error: AckErrorValue | null): void {
    // Without a stream the ack is lost, which is fine: the peer resends and gets it from the window.
    this.link?.pushAck(id, error, true);
  }

  private receiveReliable(id: string, frame: InboundReliable, link: Link): void {
    // Explicit credit: the peer may have at most our advertised window unanswered. Beyond it we refuse rather than
    // stop reading, which could wedge both ends (the acks that free the peer would sit behind unread frames).
    if (++link.unanswered > this.options.limits.maxInFlight) {
      link.fail(refusals.windowExceeded(link.unanswered, this.options.limits.maxInFlight));
      return;
    }
    const prior = this.dedup.get(id);
    if (prior !== undefined) {
      this.options.metrics.duplicates.inc();
      this.sendAck(id, prior);
      return;
    }
    if (this.inProgress.has(id)) {
      // Still queued or running from an earlier stream: its ack will go out on this one.
      this.options.metrics.duplicates.inc();
      return;
    }
    this.inProgress.add(id);
    this.inbound.push(frame);
    if (!this.draining) this.drain();
  }

  /**
   * Runs queued reliable frames in order. Synchronous while handlers answer synchronously (the common case: no
   * promise and no microtask hop per command); a handler's promise pauses the loop until it settles.
   */
  private drain(): void {
    this.draining = true;
    while (this.inboundHead < this.inbound.length) {
      const frame = this.inbound[this.inboundHead]!;
      this.inbound[this.inboundHead++] = undefined;
      const id = frame.kind === 'command' ? frame.command.id : frame.result.id;
      let r: ReliableOutcome;
      try {
        r = this.options.onReliable(frame);
      } catch (err) {
        r = handlerError(err);
      }
      if (r instanceof Promise) {
        r.then(
          (outcome) => this.answered(id, outcome) && this.drain(),
          (err: unknown) => this.answered(id, handlerError(err)) && this.drain(),
        );
        return; // still draining: the next frame waits for this one
      }
      if (!this.answered(id, r)) return;
    }
    this.inbound.length = 0;
    this.inboundHead = 0;
    this.draining = false;
  }

  /** Remembers and sends the ack of a handled frame; false when the session closed meanwhile. */
  private answered(id: string, outcome: AckErrorValue | null): boolean {
    if (this.closed) return false;
    this.dedup.remember(id, outcome);
    this.inProgress.delete(id);
    this.sendAck(id, outcome);
    if (this.inboundHead > 1024 && this.inboundHead * 2 > this.inbound.length) {
      this.inbound = this.inbound.slice(this.inboundHead);
      this.inboundHead = 0;
    }
    return true;
  }

  private waitForSpace(signal: AbortSignal | undefined, deadline: number, id: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiting: Waiting = {
        deadline,
        expire: () => done(new TimeoutError(`outbox still full after waiting for room for ${id}`)),
      };
      const onAbort = (): void => done(new AbortError());
      const wake = (): void => done(null);
      const done = (err: Error | null): void => {
        this.spaceWaiters.delete(wake);
        this.waiting.delete(waiting);
        signal?.removeEventListener('abort', onAbort);
        if (err) {
          // Pass our turn on, so a room freed for us is not wasted.
          if (!this.outbox.full) this.wakeSpaceWaiter();
          reject(err);
        } else resolve();
      };
      this.spaceWaiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (deadline !== Infinity) this.addDeadline(waiting);
    });
  }

  private wakeSpaceWaiter(): void {
    const first = this.spaceWaiters.values().next();
    if (!first.done) first.value();
  }

  private addDeadline(w: Waiting): void {
    this.waiting.add(w);
    if (w.deadline < this.timerAt) this.armTimer(w.deadline);
  }

  private armTimer(at: number): void {
    this.timer?.cancel();
    this.timerAt = at;
    this.timer = this.clock.setTimer(this.expireDeadlines, at - this.clock.now()).unref();
  }

  private readonly expireDeadlines = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.clock.now();
    let next = Infinity;
    for (const w of [...this.waiting]) {
      if (w.deadline <= now) w.expire();
      else if (w.deadline < next) next = w.deadline;
    }
    if (next !== Infinity) this.armTimer(next);
  };
}

/** A throwing handler becomes an error ack: never a crash, never a silent drop. */
function handlerError(err: unknown): AckErrorValue {
  return { code: 'HandlerError', message: errorMessage(err) };
}
