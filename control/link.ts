// One gRPC stream seen as a frame pipe: frames queued in one turn of the event loop go out as one
// Envelope (batching without timers), and writing stops while the transport is not draining.
import type { Envelope, Frame } from './wire.js';
import { frameSize } from './wire.js';

/** The part of a grpc-js duplex stream a link needs (client and server calls both fit). */
export interface DuplexLike {
  write(message: Envelope): boolean;
  once(event: 'drain', listener: () => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

/** Outgoing side of one stream. Frames beyond `highWater` pending signal pressure (callers stop reading). */
export class Link {
  private pending: Frame[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private blocked = false;
  private closed = false;
  private inboundPaused = false;
  private held = false;

  constructor(
    private readonly stream: DuplexLike,
    /** Largest envelope to write, bytes; keep below the peer's receive limit. */
    private readonly maxEnvelopeBytes: number,
    /** Pending frames at which reading from the peer pauses. Default 8192. */
    readonly highWater = 8192,
  ) {}

  /** Frames waiting to be written. */
  get backlog(): number {
    return this.pending.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Queues a frame: the first of an event-loop turn is written at once, later ones together at the end of it. */
  push(frame: Frame, size = frameSize(frame)): void {
    if (this.closed) return;
    this.pending.push(frame);
    this.pendingBytes += size;
    if (!this.inboundPaused && this.pending.length >= this.highWater) {
      // The peer sends faster than it reads our replies: stop reading until our replies drain.
      this.inboundPaused = true;
      this.stream.pause();
    }
    if (!this.scheduled && !this.blocked) {
      // The first frame of a turn goes out at once (latency with one in flight); whatever follows in the same
      // turn of the event loop is batched into one envelope at the end of it (throughput with many).
      this.scheduled = true;
      this.write();
      setImmediate(this.flush);
    }
  }

  /** Pauses (true) or resumes (false) reading from the peer, e.g. while our handler queue is long. */
  hold(on: boolean): void {
    if (this.held === on || this.closed) return;
    this.held = on;
    if (on) this.stream.pause();
    else if (!this.inboundPaused) this.stream.resume();
  }

  /** Stops writing for good (the stream ended). Pending frames are dropped; the outbox still holds reliable ones. */
  close(): void {
    this.closed = true;
    this.pending = [];
    this.pendingBytes = 0;
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    this.write();
  };

  private write(): void {
    while (!this.closed && !this.blocked && this.pending.length > 0) {
      let batch: Frame[];
      if (this.pendingBytes <= this.maxEnvelopeBytes) {
        batch = this.pending;
        this.pending = [];
        this.pendingBytes = 0;
      } else {
        let bytes = 0;
        let n = 0;
        while (n < this.pending.length) {
          const s = frameSize(this.pending[n]!);
          if (n > 0 && bytes + s > this.maxEnvelopeBytes) break;
          bytes += s;
          n++;
        }
        batch = this.pending.splice(0, n);
        this.pendingBytes -= bytes;
      }
      let ok: boolean;
      try {
        ok = this.stream.write({ frames: batch });
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
    if (this.inboundPaused && this.pending.length < this.highWater / 2 && !this.closed) {
      this.inboundPaused = false;
      if (!this.held) this.stream.resume();
    }
  }
}
