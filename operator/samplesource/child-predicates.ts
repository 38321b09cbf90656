// What the SampleSource reconciler reads of its adapter Deployments and pods: an update that
// changes none of it (kube-controller-manager's replica counters and timestamps, the kubelet's
// container statuses) does not re-queue the source. The caches still hold the newest object.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { projectionChanged, type KubeObject, type Predicate } from '../runtime/index.js';

/** Fields of an adapter Deployment a reconcile depends on (planDeployment, deployedCondition, the mode switch). */
export function deploymentFields(obj: KubeObject): unknown {
  const d = obj as unknown as V1Deployment;
  return [
    d.metadata?.generation,
    d.metadata?.labels,
    d.metadata?.annotations,
    d.metadata?.ownerReferences,
    d.metadata?.deletionTimestamp !== undefined,
    d.status?.observedGeneration,
    (d.status?.conditions ?? []).map((c) => [c.type, c.status, c.reason, c.message]),
  ];
}

/** Fields of an adapter pod a reconcile depends on (readyAdapterPods, the sessions, the mode switch). */
export function podFields(obj: KubeObject): unknown {
  const p = obj as unknown as V1Pod;
  return [
    p.metadata?.uid,
    p.metadata?.labels,
    p.metadata?.deletionTimestamp !== undefined,
    p.status?.phase,
    p.status?.podIP,
    (p.status?.conditions ?? []).find((c) => c.type === 'Ready')?.status,
  ];
}

/** Passes Deployment updates that change {@link deploymentFields}. */
export const deploymentChanged = (): Predicate<KubeObject> => projectionChanged(deploymentFields);
/** Passes pod updates that change {@link podFields}. */
export const podChanged = (): Predicate<KubeObject> => projectionChanged(podFields);
