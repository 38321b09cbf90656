// Receiver-side idempotency window: remembers the ack given to each recent message id, so that a
// resent duplicate is answered with the original ack instead of running its handler again.
//
// Two tiers keep it small without weakening the resend guarantee: an id whose ack the peer has
// not confirmed receiving (the peer may still resend it) stays until `capacity` newer ones push it
// out; once the peer confirms the ack (an ack receipt, see link.ts), the message has left the
// peer's outbox for good and the id moves to a short history of `history` ids, kept only so that
// an application re-using an id soon after still gets the original answer. With a confirming peer
// the window therefore holds the acks in transit plus the history, whatever the traffic.
import type { AckErrorValue } from './wire.js';

/** Longest error message kept per remembered ack: bounds the bytes of an entry (id ≤ 256, code ≤ 128). */
export const REMEMBERED_MESSAGE_CHARS = 512;

/** Bounded map of recent ids to their ack (null = success). Defaults: 4096 unconfirmed ids, 64 confirmed. */
export class DedupWindow {
  private readonly unconfirmed = new Map<string, AckErrorValue | null>();
  private readonly confirmed = new Map<string, AckErrorValue | null>();

  constructor(
    readonly capacity = 4096,
    readonly history = 64,
  ) {}

  /** The ack already given for `id`, or undefined when the id is new (or forgotten). */
  get(id: string): AckErrorValue | null | undefined {
    // Stored values are an ack (null = success) and never undefined, so undefined means "not in this tier".
    const ack = this.unconfirmed.get(id);
    return ack !== undefined ? ack : this.confirmed.get(id);
  }

  /** Remembers the ack for `id`, evicting the oldest unconfirmed entry beyond capacity. */
  remember(id: string, ack: AckErrorValue | null): void {
    const kept =
      ack && ack.message.length > REMEMBERED_MESSAGE_CHARS
        ? { code: ack.code, message: ack.message.slice(0, REMEMBERED_MESSAGE_CHARS) }
        : ack;
    this.confirmed.delete(id);
    this.unconfirmed.set(id, kept);
    if (this.unconfirmed.size > this.capacity) evictOldest(this.unconfirmed);
  }

  /** The peer has received our ack for `id`: it will never resend it, keep it only in the short history. */
  confirm(id: string): void {
    const ack = this.unconfirmed.get(id);
    if (ack === undefined) return;
    this.unconfirmed.delete(id);
    this.confirmed.set(id, ack);
    if (this.confirmed.size > this.history) evictOldest(this.confirmed);
  }

  get size(): number {
    return this.unconfirmed.size + this.confirmed.size;
  }
}

function evictOldest(map: Map<string, unknown>): void {
  // Map iterates in insertion order, so the first key is the oldest.
  const oldest = map.keys().next().value;
  if (oldest !== undefined) map.delete(oldest);
}
