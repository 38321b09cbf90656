// The informer's local cache: the last state seen for every object, keyed by namespace/name.
// Readers get the stored objects; they must treat them as read-only (copy before mutating).
import { objectKey, type KubeObject } from './objects.js';

/** A read-only view of an informer's cache. */
export interface Lister<T extends KubeObject> {
  /** The cached object for `namespace/name` (or `name`), if any. */
  get(key: string): T | undefined;
  /** Every cached object, optionally only one namespace's. */
  list(namespace?: string): T[];
  keys(): string[];
  readonly size: number;
}

/** A keyed object store; the informer is its only writer. */
export class Cache<T extends KubeObject> implements Lister<T> {
  private readonly items = new Map<string, T>();

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  list(namespace?: string): T[] {
    const all = [...this.items.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  get size(): number {
    return this.items.size;
  }

  /** Stores `obj` and returns what it replaced. */
  upsert(obj: T): T | undefined {
    const key = objectKey(obj);
    const old = this.items.get(key);
    this.items.set(key, obj);
    return old;
  }

  /** Removes the object with `obj`'s key and returns the last stored state. */
  remove(obj: T): T | undefined {
    const key = objectKey(obj);
    const old = this.items.get(key);
    this.items.delete(key);
    return old;
  }

  /**
   * Replaces the whole content after a relist and reports the differences, so a relist yields
   * adds, real updates (resourceVersion changed) and deletes — not a replay of every object.
   */
  replace(objects: T[]): { added: T[]; updated: Array<[T, T]>; deleted: T[] } {
    const added: T[] = [];
    const updated: Array<[T, T]> = [];
    const next = new Map<string, T>();
    for (const obj of objects) next.set(objectKey(obj), obj);
    for (const [key, obj] of next) {
      const old = this.items.get(key);
      if (!old) added.push(obj);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) updated.push([old, obj]);
    }
    const deleted = [...this.items].filter(([key]) => !next.has(key)).map(([, obj]) => obj);
    this.items.clear();
    for (const [key, obj] of next) this.items.set(key, obj);
    return { added, updated, deleted };
  }
}
