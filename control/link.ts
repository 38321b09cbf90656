// One gRPC stream seen as a frame pipe: frames queued in one turn of the event loop (one macrotask
// with its promise continuations) go out as one Envelope at the end of it (batching without timers),
// and writing stops while the transport is not draining.
//
// Reading is never paused (that could deadlock: the acks that would free us sit behind the unread
// frames). Instead the peer's sending is bounded by the protocol: it may have at most the in-flight
// window of reliable messages unanswered (`unanswered`, checked by the session), and a peer that
// sends more than it reads is refused (`notReading`). Both end the stream with RESOURCE_EXHAUSTED.
import type { Refusal } from './refusals.js';
import { refusals } from './refusals.js';
import type { AckErrorValue, Envelope, Frame } from './wire.js';
import { frameSize } from './wire.js';

/** The part of a grpc-js duplex stream a link needs (client and server calls both fit). */
export interface DuplexLike {
  write(message: Envelope): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

/** How a link is set up once the hello exchange told us the peer's limits. */
export interface LinkOptions {
  /** Largest envelope to write, bytes; keep below the peer's receive limit. */
  maxEnvelopeBytes: number;
  /** Frames waiting to be written beyond which the peer counts as not reading. */
  highWater: number;
  /** Ends the stream with a refusal (the owner sends the status and cleans up). */
  fail(refusal: Refusal): void;
  /** Track our acks so the peer's ack receipts can confirm them (peer offered 'ack-receipts'). Bounded. */
  trackAcks?: number;
}

/** Outgoing side of one stream, plus the per-stream counters of flow control and ack receipts. */
export class Link {
  /** Reliable frames received on this stream and not yet answered (checked against our in-flight window). */
  unanswered = 0;
  private pending: Frame[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private blocked = false;
  private closed = false;
  // Acks the peer sent us on this stream, and the count we last reported back (ack receipts).
  private acksIn = 0;
  private acksInReported = 0;
  // Ids of our acks on this stream in order, from index `ackBase`, until the peer confirms them.
  private ackIds: string[] = [];
  private ackHead = 0;
  private ackBase = 0;
  private acksOut = 0;

  constructor(
    private readonly stream: DuplexLike,
    private readonly options: LinkOptions,
  ) {}

  /** Frames waiting to be written. */
  get backlog(): number {
    return this.pending.length;
  }

  get highWater(): number {
    return this.options.highWater;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Queues a frame; the frames of one turn of the event loop are written together, as one envelope, at its end. */
  push(frame: Frame, size = frameSize(frame)): void {
    if (this.closed) return;
    this.pending.push(frame);
    this.pendingBytes += size;
    if (this.pending.length > this.options.highWater) {
      this.fail(refusals.notReading(this.pending.length, this.options.highWater));
      return;
    }
    if (!this.scheduled && !this.blocked) {
      // process.nextTick runs once the current macrotask and every promise continuation it queued are done (Node
      // drains the microtask queue before the tick queue's next pass), so a burst of sends, or every ack that an
      // incoming envelope produced, shares one envelope, and a lone frame still leaves in the same turn: no extra
      // turn of the event loop (setImmediate) and no separate first envelope (issue 14: one gRPC message each way
      // per round trip and per window of commands; measured in docs/benchmarks.md).
      this.scheduled = true;
      process.nextTick(this.flush);
    }
  }

  /** Queues our ack for `id` (answering a frame received on this stream when `answers`). */
  pushAck(id: string, error: AckErrorValue | null, answers: boolean): void {
    if (this.closed) return;
    if (answers && this.unanswered > 0) this.unanswered--;
    const track = this.options.trackAcks ?? 0;
    if (track > 0) {
      this.ackIds.push(id);
      if (this.ackIds.length - this.ackHead > track) {
        // The peer does not confirm: forget the oldest (the dedup window's own bound then applies).
        this.ackHead++;
        this.ackBase++;
      }
      this.compactAcks();
    }
    this.acksOut++;
    this.push({ ack: { id, error } });
  }

  /** Counts acks the peer sent on this stream, to be reported back as a receipt. */
  noteAcksIn(n: number): void {
    this.acksIn += n;
  }

  /** The peer received `total` of our acks on this stream: calls `confirm` for each newly confirmed id. */
  confirmAcks(total: number, confirm: (id: string) => void): void {
    const upTo = Math.min(total, this.acksOut);
    while (this.ackBase < upTo && this.ackHead < this.ackIds.length) {
      confirm(this.ackIds[this.ackHead++]!);
      this.ackBase++;
    }
    if (this.ackBase < upTo) this.ackBase = upTo;
    this.compactAcks();
  }

  /** Ends the stream with a refusal: no more writes, the owner sends the status. */
  fail(refusal: Refusal): void {
    if (this.closed) return;
    // Answers already queued still go out ahead of the status (unless the refusal is about not reading them).
    if (!this.blocked && this.pending.length <= this.options.highWater) this.write();
    this.close();
    this.options.fail(refusal);
  }

  /** Stops writing for good (the stream ended). Pending frames are dropped; the outbox still holds reliable ones. */
  close(): void {
    this.closed = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.ackIds = [];
    this.ackHead = 0;
  }

  private compactAcks(): void {
    if (this.ackHead > 1024 && this.ackHead * 2 > this.ackIds.length) {
      this.ackIds = this.ackIds.slice(this.ackHead);
      this.ackHead = 0;
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    this.write();
  };

  private write(): void {
    while (!this.closed && !this.blocked && this.pending.length > 0) {
      let batch: Frame[];
      if (this.pendingBytes <= this.options.maxEnvelopeBytes) {
        batch = this.pending;
        this.pending = [];
        this.pendingBytes = 0;
      } else {
        let bytes = 0;
        let n = 0;
        while (n < this.pending.length) {
          const s = frameSize(this.pending[n]!);
          if (n > 0 && bytes + s > this.options.maxEnvelopeBytes) break;
          bytes += s;
          n++;
        }
        batch = this.pending.splice(0, n);
        this.pendingBytes -= bytes;
      }
      const envelope: Envelope = { frames: batch };
      if (this.acksIn > this.acksInReported) {
        envelope.acksReceived = this.acksIn;
        this.acksInReported = this.acksIn;
      }
      let ok: boolean;
      try {
        ok = this.stream.write(envelope);
      } catch {
        // A write racing the end of the stream: the stream's own error/end handler cleans up.
        this.close();
        return;
      }
      if (!ok) {
        this.blocked = true;
        this.stream.once('drain', () => {
          this.blocked = false;
          this.write();
        });
      }
    }
  }
}

/** A link for a stream whose hello exchange is done: sized by our limits and the peer's. */
export function linkForPeer(
  stream: DuplexLike,
  own: { maxMessageBytes: number; maxOutbox: number; dedupWindow: number },
  peer: { capabilities: readonly string[]; maxMessageBytes: number },
  fail: (refusal: Refusal) => void,
): Link {
  return new Link(stream, {
    maxEnvelopeBytes: Math.min(own.maxMessageBytes, peer.maxMessageBytes) - 256,
    highWater: Math.max(256, own.maxOutbox * 4),
    fail,
    trackAcks: peer.capabilities.includes('ack-receipts') ? own.dedupWindow : 0,
  });
}
