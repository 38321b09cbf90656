// The server's table of client sessions: keyed by the client-chosen session id, resumable only by
// the identity that opened it, kept detached for a TTL, bounded in number (the oldest detached one
// is evicted first when a new session needs room).
import type { Refusal } from './refusals.js';
import { refusals } from './refusals.js';

/** What the table needs of an entry. */
export interface TableEntry {
  identities: string[];
  /** True while a stream carries the session. */
  readonly attached: boolean;
  /** When the last stream ended, on the server's clock (ms). */
  detachedAt: number;
  /** Called when the entry is dropped (expired, evicted, table cleared). */
  close(why: string): void;
}

/** Bounded session table. Defaults: at most 1024 sessions, detached ones kept 5 min. */
export class SessionTable<E extends TableEntry> {
  private readonly entries = new Map<string, E>();

  constructor(
    readonly maxSessions = 1024,
    readonly ttlMs = 300_000,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  values(): IterableIterator<E> {
    return this.entries.values();
  }

  entriesList(): Array<[string, E]> {
    return [...this.entries.entries()];
  }

  /**
   * The session `id` for a caller with `identities`: the existing one (resumed), a new one made by `create`, or the
   * refusal (another identity's session, no room).
   */
  open(
    id: string,
    identities: string[],
    create: () => E,
  ): { ok: true; entry: E; resumed: boolean } | { ok: false; refusal: Refusal } {
    const existing = this.entries.get(id);
    if (existing) {
      if (!existing.identities.some((i) => identities.includes(i)))
        return { ok: false, refusal: refusals.sessionOfAnotherIdentity(id) };
      return { ok: true, entry: existing, resumed: true };
    }
    if (!this.makeRoom()) return { ok: false, refusal: refusals.tooManySessions(this.maxSessions) };
    const entry = create();
    this.entries.set(id, entry);
    return { ok: true, entry, resumed: false };
  }

  /** Forgets sessions detached longer than the TTL before `now` (the server's clock, as detachedAt); returns how many. */
  sweep(now: number): number {
    const cutoff = now - this.ttlMs;
    let n = 0;
    for (const [id, e] of this.entries)
      if (!e.attached && e.detachedAt < cutoff) {
        this.drop(id, e, 'expired');
        n++;
      }
    return n;
  }

  /** Drops every session (server closing). */
  clear(why: string): void {
    for (const [id, e] of this.entries) this.drop(id, e, why);
  }

  private makeRoom(): boolean {
    if (this.entries.size < this.maxSessions) return true;
    let oldest: [string, E] | undefined;
    for (const entry of this.entries) {
      if (entry[1].attached) continue;
      if (!oldest || entry[1].detachedAt < oldest[1].detachedAt) oldest = entry;
    }
    if (!oldest) return false;
    this.drop(oldest[0], oldest[1], 'evicted to make room');
    return true;
  }

  private drop(id: string, e: E, why: string): void {
    this.entries.delete(id);
    e.close(why);
  }
}
