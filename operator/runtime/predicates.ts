// Event filters applied before a key is enqueued.
import type { KubeObject } from './objects.js';

/** Decides which informer events enqueue work; a missing method lets the event through. */
export interface Predicate<T extends KubeObject = KubeObject> {
  add?(obj: T): boolean;
  update?(oldObj: T, newObj: T): boolean;
  delete?(obj: T): boolean;
}

/**
 * Lets updates through only when `metadata.generation` changed, i.e. the spec changed (status
 * writes and resyncs are dropped). Deletion with finalizers bumps the generation, so it passes.
 * Objects without a generation (most core kinds) always pass.
 */
export function generationChanged<T extends KubeObject>(): Predicate<T> {
  return {
    update: (oldObj, newObj) =>
      newObj.metadata.generation === undefined || oldObj.metadata.generation !== newObj.metadata.generation,
  };
}

/** Lets updates through when labels or annotations changed (pairs with {@link generationChanged} via {@link anyOf}). */
export function metadataChanged<T extends KubeObject>(): Predicate<T> {
  return {
    update: (o, n) =>
      JSON.stringify(o.metadata.labels ?? {}) !== JSON.stringify(n.metadata.labels ?? {}) ||
      JSON.stringify(o.metadata.annotations ?? {}) !== JSON.stringify(n.metadata.annotations ?? {}),
  };
}

/** An event passes when any of the predicates lets it through. */
export function anyOf<T extends KubeObject>(...predicates: Predicate<T>[]): Predicate<T> {
  const pass = (p: Predicate<T>, kind: keyof Predicate<T>, a: T, b?: T): boolean => {
    if (kind === 'update') return p.update?.(a, b ?? a) ?? true;
    return p[kind]?.(a) ?? true;
  };
  return {
    add: (o) => predicates.some((p) => pass(p, 'add', o)),
    update: (o, n) => predicates.some((p) => pass(p, 'update', o, n)),
    delete: (o) => predicates.some((p) => pass(p, 'delete', o)),
  };
}

/**
 * Lets updates through only when `project(obj)` changed (compared as JSON), so that writes to
 * fields a reconciler never reads (status counters, timestamps, managedFields) do not wake it.
 * Adds and deletes always pass.
 */
export function projectionChanged<T extends KubeObject>(project: (obj: T) => unknown): Predicate<T> {
  return { update: (o, n) => JSON.stringify(project(o)) !== JSON.stringify(project(n)) };
}
