// Writing the status subresource: a JSON merge patch guarded by resourceVersion, retried on
// conflict after re-reading the object; or server-side apply with a field manager. Nothing is
// written when the status did not change semantically.
import { isConflict, type KubeClient } from './client.js';
import { resourcePath, type KubeObject, type ResourceType, type Request } from './objects.js';

/** Content types for PATCH (client-node 2.x makes callers pick one too). */
export const PatchType = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

/** Structural equality of JSON values (key order ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => deepEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set(
    [...Object.keys(ao), ...Object.keys(bo)].filter((k) => ao[k] !== undefined || bo[k] !== undefined),
  );
  return [...keys].every((k) => deepEqual(ao[k], bo[k]));
}

/** The RFC 7386 merge patch turning `from` into `to` (removed keys become null; arrays are replaced). */
export function mergePatch(from: unknown, to: unknown): unknown {
  const isObj = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(from) || !isObj(to)) return to;
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(from)) if (from[k] !== undefined && to[k] === undefined) patch[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (v === undefined || deepEqual(from[k], v)) continue;
    patch[k] = isObj(from[k]) && isObj(v) ? mergePatch(from[k], v) : v;
  }
  return patch;
}

/** Options of {@link updateStatus}. */
export interface UpdateStatusOptions {
  /** Attempts after conflicts. Default 5. */
  attempts?: number;
}

/**
 * Reads the object, computes its new status with `compute` (given a private copy), and merge-
 * patches `/status` guarded by the read resourceVersion; on 409 it re-reads and recomputes.
 * Resolves with the stored object (unchanged when the status already matched).
 */
export async function updateStatus<T extends KubeObject & { status?: unknown }>(
  client: KubeClient,
  resource: ResourceType,
  request: Request,
  compute: (obj: T) => T['status'],
  options: UpdateStatusOptions = {},
): Promise<T> {
  const path = resourcePath(resource, request.namespace, request.name);
  const attempts = options.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    const current = await client.request<T>('GET', path);
    try {
      return await writeStatus(client, resource, current, compute(structuredClone(current)));
    } catch (err) {
      if (!isConflict(err) || attempt >= attempts) throw err;
    }
  }
}

/**
 * Merge-patches `/status` of `current` (as read) to `status`, guarded by its resourceVersion: a
 * concurrent writer makes it fail with a 409 ({@link isConflict}); the caller re-reads and
 * re-plans. Writes nothing and resolves with `current` when the status already matches.
 */
export async function writeStatus<T extends KubeObject & { status?: unknown }>(
  client: KubeClient,
  resource: ResourceType,
  current: T,
  status: T['status'],
): Promise<T> {
  if (deepEqual(current.status, status)) return current;
  const path = resourcePath(resource, current.metadata.namespace, current.metadata.name, 'status');
  return client.request<T>('PATCH', path, {
    contentType: PatchType.merge,
    body: {
      // The resourceVersion makes the patch conditional: a concurrent writer yields a 409.
      metadata: { resourceVersion: current.metadata.resourceVersion },
      status: mergePatch(current.status ?? {}, status ?? {}),
    },
  });
}

/**
 * Server-side applies `status` to the status subresource as `fieldManager` (force: the
 * controller owns these fields). Only the fields given are owned; omit what you do not set.
 */
export async function applyStatus<T extends KubeObject>(
  client: KubeClient,
  resource: ResourceType,
  obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
  status: unknown,
  fieldManager: string,
): Promise<T> {
  const path = resourcePath(resource, obj.metadata.namespace, obj.metadata.name, 'status');
  return client.request<T>('PATCH', path, {
    contentType: PatchType.apply,
    query: { fieldManager, force: true },
    body: {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace },
      status,
    },
  });
}
