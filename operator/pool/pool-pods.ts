// Which pool pods are members: the operator's Pod watch of the pool Deployment (label selector, in
// the operator's namespace) turned into PoolSessions.setPods input. Only a Ready pod with an IP,
// not being deleted, takes sources; a pod that stops being Ready hands its sources on.
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeObject } from '../runtime/index.js';
import type { PoolPod } from './pool-sessions.js';

/** Label of the pool pods the operator selects them by: app.kubernetes.io/name=samplesource-pool. */
export const POOL_POD_SELECTOR = 'app.kubernetes.io/name=samplesource-pool';

/** Whether a pool pod may hold sources: Running, Ready, with a pod IP, not terminating. */
export function isPoolMember(pod: V1Pod): boolean {
  return (
    !pod.metadata?.deletionTimestamp &&
    pod.status?.phase === 'Running' &&
    !!pod.status.podIP &&
    (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

/** The members among `pods`, sorted by name, each with its control target `podIP:controlPort`. */
export function poolMembers(pods: readonly KubeObject[], controlPort: number): PoolPod[] {
  return pods
    .map((o) => o as unknown as V1Pod)
    .filter(isPoolMember)
    .map((p) => ({ name: p.metadata!.name!, target: `${p.status!.podIP!}:${controlPort}` }))
    .sort((a, b) => a.name.localeCompare(b.name));
}
