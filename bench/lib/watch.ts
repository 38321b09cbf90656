// A watch on SampleSources that calls back with each object as it arrives (timestamps come from the
// caller's performance.now(), the same clock the DevSink stamps heartbeats with). Re-opens the
// watch when the server ends it, until stopped.
import * as k8s from '@kubernetes/client-node';

/** A SampleSource as the benchmarks read it. */
export interface SourceObj {
  metadata: { name: string; namespace: string; generation: number; uid: string; resourceVersion?: string };
  spec: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  };
}

/** Status of condition `type`, or undefined. */
export function conditionStatus(s: SourceObj, type: string): string | undefined {
  return s.status?.conditions?.find((c) => c.type === type)?.status;
}

/** Watches SampleSources in `namespace` (all namespaces when undefined); returns a stop function. */
export function watchSources(
  kc: k8s.KubeConfig,
  namespace: string | undefined,
  onObject: (type: string, obj: SourceObj) => void,
): { stop(): void; ready: Promise<void> } {
  const path = namespace
    ? `/apis/samples.knative.dev/v1alpha1/namespaces/${namespace}/samplesources`
    : '/apis/samples.knative.dev/v1alpha1/samplesources';
  const watch = new k8s.Watch(kc);
  let stopped = false;
  let current: { abort(): void } | undefined;
  let signalReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (signalReady = r));
  let restarts = 0;
  const open = async (): Promise<void> => {
    if (stopped || restarts++ > 1000) return;
    try {
      current = await watch.watch(
        path,
        { allowWatchBookmarks: false },
        (type: string, obj: SourceObj) => onObject(type, obj),
        () => {
          if (!stopped) setTimeout(() => void open(), 100);
        },
      );
      signalReady();
    } catch {
      if (!stopped) setTimeout(() => void open(), 500);
    }
  };
  void open();
  return {
    ready,
    stop: () => {
      stopped = true;
      current?.abort();
    },
  };
}
