// Test support for table-driven reconciler tests (Knative's style): a recording fake of the
// two-method KubeClient holding objects by path. It is a fake on purpose: the rows check which
// writes a reconcile makes, which the real apiserver (in the cluster tests) cannot show as a list.
import { ApiError, type KubeClient, type RequestInit } from './client.js';
import type { KubeObject } from './objects.js';

/** One request the fake received: method, path and, for writes, the body. */
export interface RecordedRequest {
  method: string;
  path: string;
  body?: unknown;
}

/** A fault to answer a request with, instead of serving it: `{ method, path, code, reason }`. */
export interface InjectedFault {
  method: string;
  /** The exact path (a status patch's ends in /status). */
  path: string;
  code: number;
  reason: string;
}

type Stored = KubeObject & { status?: unknown };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Applies an RFC 7386 merge patch (what status.ts mergePatch computes). */
function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/**
 * A KubeClient over an in-memory map of objects by path (`/api/v1/namespaces/ns/secrets/name`).
 * GET serves the object or 404; POST stores under `<path>/<metadata.name>` (409 if present); PUT
 * replaces; PATCH of `<path>/status` merge-patches the status (409 if the patch's resourceVersion
 * is stale), PATCH of another path merge-patches the object; DELETE removes (404 if absent). Every write bumps resourceVersion. Everything is recorded in `requests`.
 */
export class RecordingFakeClient implements KubeClient {
  readonly requests: RecordedRequest[] = [];
  private readonly objects = new Map<string, Stored>();
  private readonly faults: InjectedFault[] = [];
  private version = 100;

  constructor(objects: Record<string, object> = {}) {
    for (const [path, obj] of Object.entries(objects)) this.objects.set(path, structuredClone(obj) as Stored);
  }

  /** Answers the next matching request with an error instead. */
  inject(fault: InjectedFault): this {
    this.faults.push(fault);
    return this;
  }

  /** The stored object at `path`, if any. */
  get(path: string): Stored | undefined {
    return this.objects.get(path);
  }

  /** The requests as `METHOD path` lines, in order (what a table row states). */
  get calls(): string[] {
    return this.requests.map((r) => `${r.method} ${r.path}`);
  }

  request<T = unknown>(method: string, path: string, init: RequestInit = {}): Promise<T> {
    this.requests.push({
      method,
      path,
      ...(init.body !== undefined ? { body: structuredClone(init.body) } : {}),
    });
    const fault = this.faults.findIndex((f) => f.method === method && f.path === path);
    if (fault >= 0) {
      const [f] = this.faults.splice(fault, 1);
      return Promise.reject(new ApiError(`injected ${f!.reason}`, f!.code, f!.reason));
    }
    try {
      return Promise.resolve(structuredClone(this.serve(method, path, init.body)) as T);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  stream(): Promise<void> {
    return Promise.reject(new Error('RecordingFakeClient does not watch'));
  }

  private serve(method: string, path: string, body: unknown): Stored {
    const notFound = () => new ApiError(`${path} not found`, 404, 'NotFound');
    const bump = (obj: Stored) => {
      obj.metadata = { ...obj.metadata, resourceVersion: String(++this.version) };
      return obj;
    };
    if (method === 'GET') {
      const obj = this.objects.get(path);
      if (!obj) throw notFound();
      return obj;
    }
    if (method === 'POST') {
      const obj = structuredClone(body) as Stored;
      const at = `${path}/${obj.metadata.name}`;
      if (this.objects.has(at)) throw new ApiError(`${at} exists`, 409, 'AlreadyExists');
      this.objects.set(at, bump(obj));
      return obj;
    }
    if (method === 'PUT') {
      if (!this.objects.has(path)) throw notFound();
      const obj = bump(structuredClone(body) as Stored);
      this.objects.set(path, obj);
      return obj;
    }
    if (method === 'PATCH' && path.endsWith('/status')) {
      const at = path.slice(0, -'/status'.length);
      const obj = this.objects.get(at);
      if (!obj) throw notFound();
      const patch = body as { metadata?: { resourceVersion?: string }; status?: unknown };
      const guard = patch.metadata?.resourceVersion;
      if (guard !== undefined && guard !== obj.metadata.resourceVersion)
        throw new ApiError(`${at}: resourceVersion ${guard} is stale`, 409, 'Conflict');
      const next = bump({ ...obj, status: applyMergePatch(obj.status, patch.status) });
      this.objects.set(at, next);
      return next;
    }
    if (method === 'PATCH') {
      // A merge patch of the whole object (an Event's count), unguarded.
      const obj = this.objects.get(path);
      if (!obj) throw notFound();
      const next = bump(applyMergePatch(obj, body) as Stored);
      this.objects.set(path, next);
      return next;
    }
    if (method === 'DELETE') {
      if (!this.objects.delete(path)) throw notFound();
      return { kind: 'Status', status: 'Success' } as never;
    }
    throw new Error(`RecordingFakeClient: ${method} ${path} is not served`);
  }
}
