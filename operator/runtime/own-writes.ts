// A controller's own recent writes, kept until its informer cache has caught up with them, so a
// reconcile can plan from the cache instead of reading the object fresh on every pass and still
// see the status it wrote a moment ago (client-go's MutationCache does this for its controllers).
// Only equality of resourceVersions is used, never their order: a write is shown instead of the
// cached object only while the cache still holds exactly the version that write replaced.
import type { KubeObject } from './objects.js';

/** Options of {@link OwnWrites}. */
export interface OwnWritesOptions<T extends KubeObject> {
  /** The informer cache's current object for a key. */
  cached: (key: string) => T | undefined;
  /** Writes remembered at most; the oldest goes first (its next pass may then meet a conflict and read fresh). Default 10,000. */
  max?: number;
}

interface Written<T> {
  /** resourceVersion of the object the write replaced. */
  base: string | undefined;
  written: T;
}

/** The freshest known state per key: the cache, or our own write the cache has not seen yet. */
export class OwnWrites<T extends KubeObject> {
  private readonly writes = new Map<string, Written<T>>();
  private readonly max: number;
  /** Size after the last sweep: the next one runs when the map doubled, so sweeping costs O(1) per write. */
  private swept = 0;

  constructor(private readonly options: OwnWritesOptions<T>) {
    this.max = options.max ?? 10_000;
  }

  /** Remembers `written`, the API server's answer to a write of the object read at resourceVersion `base`. */
  remember(key: string, base: string | undefined, written: T): void {
    this.writes.delete(key);
    this.writes.set(key, { base, written });
    if (this.writes.size > Math.max(256, 2 * this.swept)) this.sweep();
    if (this.writes.size > this.max) this.writes.delete(this.writes.keys().next().value!);
  }

  /** The object to plan from: our write while the cache still holds the version it replaced, else the cache. */
  get(key: string): T | undefined {
    const cached = this.options.cached(key);
    const mine = this.writes.get(key);
    if (!mine) return cached;
    if (cached !== undefined && cached.metadata.resourceVersion === mine.base) return mine.written;
    // The cache has our write or something newer (or the object is gone): it is the truth again.
    this.writes.delete(key);
    return cached;
  }

  /** Drops what is known of `key` (deleted, or read fresh). */
  forget(key: string): void {
    this.writes.delete(key);
  }

  /** Writes the cache has not caught up with yet. */
  get size(): number {
    return this.writes.size;
  }

  private sweep(): void {
    for (const [key, mine] of this.writes)
      if (this.options.cached(key)?.metadata.resourceVersion !== mine.base) this.writes.delete(key);
    this.swept = this.writes.size;
  }
}
