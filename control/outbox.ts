// Sender-side store of unacked reliable messages: bounded, ordered, and rewound after a reconnect
// so that everything not yet acked is written again in the original order.
import type { Frame } from './wire.js';
import type { AckErrorValue } from './wire.js';

/** One unacked reliable message and whoever waits for its ack. */
export interface OutboxEntry {
  readonly id: string;
  readonly frame: Frame;
  readonly size: number;
  /** Stream epoch it was last written on; -1 when not written on the current stream. */
  sentEpoch: number;
  attempts: number;
  sentAt: number;
  removed: boolean;
  waiters: Array<(error: AckErrorValue | null | Error) => void>;
}

/** Ordered, bounded outbox. Defaults: 1024 entries, 256 in flight. */
export class Outbox {
  private readonly entries = new Map<string, OutboxEntry>();
  // Send order of entries not yet written on the current stream; removed entries are skipped lazily.
  // A consumed slot is cleared at once, so an acked entry (and its frame) is collectable right away
  // rather than when the prefix is next compacted.
  private queue: Array<OutboxEntry | undefined> = [];
  private head = 0;
  private epoch = 0;
  private inFlightCount = 0;

  constructor(
    private maxEntries = 1024,
    private maxInFlight = 256,
  ) {}

  /** Applies the limits agreed with the peer of a new stream (entries already queued stay). */
  setLimits(maxEntries: number, maxInFlight: number): void {
    this.maxEntries = maxEntries;
    this.maxInFlight = maxInFlight;
  }

  get size(): number {
    return this.entries.size;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  get full(): boolean {
    return this.entries.size >= this.maxEntries;
  }

  get(id: string): OutboxEntry | undefined {
    return this.entries.get(id);
  }

  /** Appends a new entry (caller checked `full`). */
  add(id: string, frame: Frame, size: number): OutboxEntry {
    const entry: OutboxEntry = {
      id,
      frame,
      size,
      sentEpoch: -1,
      attempts: 0,
      sentAt: 0,
      removed: false,
      waiters: [],
    };
    this.entries.set(id, entry);
    this.queue.push(entry);
    return entry;
  }

  /** Removes an entry (acked or aborted); frees its in-flight slot if it was written on this stream. */
  remove(id: string): OutboxEntry | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    this.entries.delete(id);
    entry.removed = true;
    if (entry.sentEpoch === this.epoch) this.inFlightCount--;
    return entry;
  }

  /** Next entry to write, within the in-flight window, marked as written; undefined when none or window full. */
  takeNext(): OutboxEntry | undefined {
    while (this.inFlightCount < this.maxInFlight && this.head < this.queue.length) {
      const entry = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      if (entry.removed) continue;
      entry.sentEpoch = this.epoch;
      this.inFlightCount++;
      this.compact();
      return entry;
    }
    this.compact();
    return undefined;
  }

  /** A new stream: everything unacked is due again, in the original order. */
  rewind(): void {
    this.epoch++;
    this.inFlightCount = 0;
    this.queue = [...this.entries.values()];
    this.head = 0;
  }

  /** All entries, in send order (for shutdown). */
  values(): IterableIterator<OutboxEntry> {
    return this.entries.values();
  }

  private compact(): void {
    // Drop the consumed prefix now and then so the array never grows without bound.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
