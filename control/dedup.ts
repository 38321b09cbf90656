// Receiver-side idempotency window: remembers the ack given to each recent message id, so that a
// resent duplicate is answered with the original ack instead of running its handler again.
import type { AckErrorValue } from './wire.js';

/** Bounded map of recent ids to their ack (null = success). Oldest ids are forgotten first. Default 4096 ids. */
export class DedupWindow {
  private readonly acks = new Map<string, AckErrorValue | null>();

  constructor(readonly capacity = 4096) {}

  /** The ack already given for `id`, or undefined when the id is new (or forgotten). */
  get(id: string): AckErrorValue | null | undefined {
    return this.acks.get(id);
  }

  /** Remembers the ack for `id`, evicting the oldest entry beyond capacity. */
  remember(id: string, ack: AckErrorValue | null): void {
    this.acks.set(id, ack);
    if (this.acks.size > this.capacity) {
      // Map iterates in insertion order, so the first key is the oldest.
      const oldest = this.acks.keys().next().value;
      if (oldest !== undefined) this.acks.delete(oldest);
    }
  }

  get size(): number {
    return this.acks.size;
  }
}
