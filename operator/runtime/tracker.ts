// Which primary objects reference which other objects (a SampleSource's sink.ref), in the manner
// of knative.dev/pkg/tracker: a reconcile declares what its key references, a change to a
// referenced object enqueues every key that references it, and the kinds referenced at all are
// handed to a watcher that starts a watch on the first reference and stops it after the last.
// The only way back into a controller is `enqueue(key)`, so any trigger source can carry it.

/** One referenced object. */
export interface ObjectReference {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

/** A referenced kind: `apiVersion` and `kind` (an informer per kind serves every name). */
export interface KindReference {
  apiVersion: string;
  kind: string;
}

/** Starts and stops watches of whole kinds; {@link DynamicInformers} is the real one. */
export interface KindWatcher {
  /** The kind is referenced (called on every track, so a failed start is tried again); idempotent. */
  watch(kind: KindReference): void;
  /** Nothing references the kind any more. */
  unwatch(kind: KindReference): void;
}

/** Options of {@link Tracker}. */
export interface TrackerOptions {
  /** Called with every key that references a changed object. */
  enqueue(key: string): void;
  /** Told which kinds are referenced. Default: none (changes must be reported by hand). */
  watcher?: KindWatcher;
}

const refId = (r: ObjectReference) => `${r.apiVersion}|${r.kind}|${r.namespace}|${r.name}`;
const kindId = (k: KindReference) => `${k.apiVersion}|${k.kind}`;

/** Maps referenced objects back to the keys that reference them. */
export class Tracker {
  private readonly byKey = new Map<string, ObjectReference[]>();
  private readonly byRef = new Map<string, Set<string>>();
  private readonly kindUsers = new Map<string, { kind: KindReference; keys: Set<string> }>();

  constructor(private readonly options: TrackerOptions) {}

  /** Declares the full set of objects `key` references now (replacing what it referenced before). */
  track(key: string, refs: readonly ObjectReference[]): void {
    const before = this.byKey.get(key) ?? [];
    for (const ref of before) this.byRef.get(refId(ref))?.delete(key);
    for (const ref of before) if (this.byRef.get(refId(ref))?.size === 0) this.byRef.delete(refId(ref));
    const kindsBefore = new Map(before.map((r) => [kindId(r), r] as const));
    const kindsNow = new Map(refs.map((r) => [kindId(r), r] as const));
    if (refs.length === 0) this.byKey.delete(key);
    else this.byKey.set(key, [...refs]);
    for (const ref of refs) {
      const id = refId(ref);
      const keys = this.byRef.get(id) ?? new Set<string>();
      keys.add(key);
      this.byRef.set(id, keys);
    }
    for (const [id, ref] of kindsNow) {
      const users = this.kindUsers.get(id) ?? {
        kind: { apiVersion: ref.apiVersion, kind: ref.kind },
        keys: new Set(),
      };
      users.keys.add(key);
      this.kindUsers.set(id, users);
      this.options.watcher?.watch(users.kind);
    }
    for (const [id] of kindsBefore) {
      if (kindsNow.has(id)) continue;
      const users = this.kindUsers.get(id);
      users?.keys.delete(key);
      if (users && users.keys.size === 0) {
        this.kindUsers.delete(id);
        this.options.watcher?.unwatch(users.kind);
      }
    }
  }

  /** `key` references nothing any more (its object is gone). */
  untrack(key: string): void {
    this.track(key, []);
  }

  /** Reports a change (add, update or delete) of `ref`: enqueues every key that references it. */
  onChanged(ref: ObjectReference): void {
    for (const key of this.byRef.get(refId(ref)) ?? []) this.options.enqueue(key);
  }

  /** The keys referencing `ref`. */
  referrers(ref: ObjectReference): string[] {
    return [...(this.byRef.get(refId(ref)) ?? [])].sort();
  }

  /** The kinds referenced by at least one key. */
  referencedKinds(): KindReference[] {
    return [...this.kindUsers.values()].map((u) => u.kind);
  }
}
