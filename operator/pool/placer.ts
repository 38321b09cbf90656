// Placement kept up to date as sources come and go, instead of computed from scratch on every
// change: the keys stay hashed and in placement order (a binary-search insert per upsert), the
// ring is built once per membership, and the last placement is reused until a key or the
// membership changes. The result is exactly place()'s (placement.ts) for the same sets; the
// bounded-load walk itself still runs over every key, once per change that needs it, which the
// pool's coalesced placement passes (pool-sessions.ts) keep to a few per second in a burst.
import {
  buildRing,
  compareHashed,
  DEFAULT_LOAD_SLACK,
  DEFAULT_VNODES,
  hash32,
  placeOrdered,
  podOrder,
  type HashedKey,
  type Placement,
  type PlacementOptions,
  type Ring,
} from './placement.js';

/** The source keys known and the placement over the latest membership. */
export class Placer {
  private readonly ordered: HashedKey[] = [];
  private readonly keys = new Set<string>();
  private ring?: { pods: string; ring: Ring };
  private memo?: { pods: string; placement: Placement };

  constructor(private readonly options: PlacementOptions = {}) {}

  /** Adds a source key (a no-op when known). */
  add(key: string): void {
    if (this.keys.has(key)) return;
    this.keys.add(key);
    const entry = { key, hash: hash32(key) };
    this.ordered.splice(this.indexOf(entry), 0, entry);
    this.memo = undefined;
  }

  /** Removes a source key (a no-op when unknown). */
  delete(key: string): void {
    if (!this.keys.delete(key)) return;
    this.ordered.splice(this.indexOf({ key, hash: hash32(key) }), 1);
    this.memo = undefined;
  }

  /** Source keys known. */
  get size(): number {
    return this.keys.size;
  }

  /** The owner of every key on `pods`; the same Map as last time when nothing changed (read it, do not change it). */
  placement(pods: Iterable<string>): Placement {
    const podList = podOrder(pods);
    const signature = podList.join('\u0000');
    if (this.memo?.pods === signature) return this.memo.placement;
    if (this.ring?.pods !== signature)
      this.ring = { pods: signature, ring: buildRing(podList, this.options.vnodes ?? DEFAULT_VNODES) };
    const placement = placeOrdered(
      this.ordered,
      podList,
      this.ring.ring,
      this.options.loadSlack ?? DEFAULT_LOAD_SLACK,
    );
    this.memo = { pods: signature, placement };
    return placement;
  }

  /** Where `entry` is or belongs in placement order (binary search). */
  private indexOf(entry: HashedKey): number {
    let lo = 0;
    let hi = this.ordered.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareHashed(this.ordered[mid]!, entry) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
