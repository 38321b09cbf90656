// Generic object shapes and REST paths. Objects stay plain JSON; a zod schema at the informer's
// edge checks the few fields the runtime relies on and passes the rest through untouched.
import { z } from 'zod';

/** An owner reference as the API server stores it. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** The metadata fields the runtime reads. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  generateName?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  managedFields?: unknown[];
}

/** Any Kubernetes object, as raw JSON (no index signature, so callers' own interfaces fit). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

/** Validates the parts of an object the runtime depends on; everything else passes through. */
export const kubeObjectSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: z.looseObject({
    name: z.string().min(1),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    generation: z.number().optional(),
  }),
});

/** Which resource to talk to: `apiVersion` ("v1", "apps/v1", "samples.example.com/v1alpha1") and plural. */
export interface ResourceType {
  apiVersion: string;
  plural: string;
  /** Default true. */
  namespaced?: boolean;
  /** Only for logs and metrics. */
  kind?: string;
}

/** The REST path for a resource collection or one object (and optionally a subresource). */
export function resourcePath(
  rt: ResourceType,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const prefix = rt.apiVersion.includes('/') ? `/apis/${rt.apiVersion}` : `/api/${rt.apiVersion}`;
  const ns = (rt.namespaced ?? true) && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  let path = `${prefix}${ns}/${rt.plural}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  if (subresource !== undefined) path += `/${subresource}`;
  return path;
}

/** The work-queue key of an object: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: { metadata: { name: string; namespace?: string } }): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name;
}

/** A reconcile request: the identity of one object, never the object itself (level-triggered). */
export interface Request {
  namespace?: string;
  name: string;
}

/** Splits a `namespace/name` key back into a {@link Request}. */
export function parseKey(key: string): Request {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** Formats a {@link Request} as its key. */
export function requestKey(req: Request): string {
  return req.namespace ? `${req.namespace}/${req.name}` : req.name;
}

/** The group part of an apiVersion ("" for the core group). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}
