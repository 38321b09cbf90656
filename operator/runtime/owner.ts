// Mapping owned objects (Deployments, Pods, Secrets ...) back to their controlling owner, the
// way controller-runtime's EnqueueRequestForOwner(OnlyControllerOwner) does.
import { groupOf, type KubeObject, type OwnerReference, type Request } from './objects.js';

/** Which owner kind to look for: apiVersion (only its group is compared, versions may differ) and kind. */
export interface OwnerType {
  apiVersion: string;
  kind: string;
}

/** The controller owner reference of `obj` if it is of `owner`'s kind. */
export function controllerOf(obj: KubeObject, owner: OwnerType): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find(
    (ref) =>
      ref.controller === true &&
      ref.kind === owner.kind &&
      groupOf(ref.apiVersion) === groupOf(owner.apiVersion),
  );
}

/**
 * The requests for `obj`'s controller owner of the given kind. Owner references cannot cross
 * namespaces, so the owner lives in `obj`'s namespace (or is cluster-scoped when `obj` is).
 */
export function enqueueControllerOwner(owner: OwnerType): (obj: KubeObject) => Request[] {
  return (obj) => {
    const ref = controllerOf(obj, owner);
    if (!ref) return [];
    return [
      obj.metadata.namespace ? { namespace: obj.metadata.namespace, name: ref.name } : { name: ref.name },
    ];
  };
}

/** A controller owner reference pointing at `owner`, for children the reconciler creates. */
export function controllerReference(owner: {
  apiVersion: string;
  kind: string;
  metadata: { name: string; uid?: string };
}): OwnerReference {
  if (!owner.metadata.uid)
    throw new Error(`owner ${owner.metadata.name} has no uid (not read from the API server?)`);
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}
