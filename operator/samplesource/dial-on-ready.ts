// Dial on the pod's Ready event. A restarted adapter pod keeps its name, UID and IP, so its control
// session survives and waits in its reconnect backoff; when the pod informer sees the pod turn Ready
// again, the session dials at once instead of at the next backoff step. Straight from the informer,
// not through the work queue: with many sources queued, a reconcile may be seconds away.
import type { KubeObject } from '../runtime/index.js';
import type { AdapterPod } from './sessions.js';
import { SOURCE_NAME_LABEL } from './resources.js';

interface PodLike {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    deletionTimestamp?: unknown;
  };
  status?: { phase?: string; podIP?: string; conditions?: Array<{ type?: string; status?: string }> };
}

/** Ready as the reconciler counts it (readyAdapterPods): running, with an IP, condition Ready True, not deleting. */
export function isPodReady(pod: PodLike | undefined): boolean {
  return (
    !!pod &&
    !pod.metadata?.deletionTimestamp &&
    pod.status?.phase === 'Running' &&
    !!pod.status.podIP &&
    (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

/** What the sessions need to hear about a pod that turned Ready. */
export interface ReadyListener {
  podReady(sourceKey: string, pod: AdapterPod): void;
}

/** An informer handler that tells `sessions` about every adapter pod turning Ready (not Ready before, or new). */
export function dialOnReady(sessions: ReadyListener): {
  onAdd(obj: KubeObject): void;
  onUpdate(oldObj: KubeObject, newObj: KubeObject): void;
} {
  const tell = (obj: KubeObject): void => {
    const pod = obj as unknown as PodLike;
    const source = pod.metadata?.labels?.[SOURCE_NAME_LABEL];
    if (!source || !pod.metadata?.name || !pod.metadata.uid || !pod.status?.podIP) return;
    sessions.podReady(`${pod.metadata.namespace}/${source}`, {
      name: pod.metadata.name,
      uid: pod.metadata.uid,
      ip: pod.status.podIP,
    });
  };
  return {
    onAdd: (obj) => {
      if (isPodReady(obj)) tell(obj);
    },
    onUpdate: (oldObj, newObj) => {
      if (!isPodReady(oldObj) && isPodReady(newObj)) tell(newObj);
    },
  };
}
