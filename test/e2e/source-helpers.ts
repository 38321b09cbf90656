// Reading and changing SampleSources the way a user sees them: conditions, status, pods, sink traffic.
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, eventually, kubectl } from '../support/cluster.js';

const GROUP = 'samples.knative.dev';
const VERSION = 'v1alpha1';
const PLURAL = 'samplesources';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  severity?: string;
  lastTransitionTime?: string;
}

export interface SourceObject {
  metadata: { name: string; namespace: string; uid: string; generation: number };
  spec: Record<string, unknown>;
  status?: { observedGeneration?: number; conditions?: Condition[]; sinkUri?: string; [k: string]: unknown };
}

const custom = () => adminKubeConfig().makeApiClient(k8s.CustomObjectsApi);

export async function getSource(namespace: string, name: string): Promise<SourceObject> {
  return (await custom().getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    name,
  })) as SourceObject;
}

export async function createSource(
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): Promise<SourceObject> {
  return (await custom().createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'SampleSource', metadata: { name }, spec },
  })) as SourceObject;
}

export async function patchSpec(
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): Promise<SourceObject> {
  return (await custom().patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { spec } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  )) as SourceObject;
}

export function condition(source: SourceObject, type: string): Condition | undefined {
  return source.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the source's status describes its current generation and `predicate` holds. */
export async function waitForSource(
  namespace: string,
  name: string,
  what: string,
  predicate: (s: SourceObject) => boolean,
  timeoutMs = 60_000,
): Promise<SourceObject> {
  return eventually(
    `${namespace}/${name}: ${what}`,
    async () => {
      const s = await getSource(namespace, name);
      return s.status?.observedGeneration === s.metadata.generation && predicate(s) ? s : undefined;
    },
    timeoutMs,
  ).catch(async (err: Error) => {
    const s = await getSource(namespace, name).catch(() => undefined);
    throw new Error(`${err.message}\nlast status: ${JSON.stringify(s?.status, null, 1)}`);
  });
}

export const isTrue = (s: SourceObject, type: string) => condition(s, type)?.status === 'True';

/** Ready adapter pods of a source. */
export async function adapterPods(namespace: string, sourceUid: string): Promise<k8s.V1Pod[]> {
  const core = adminKubeConfig().makeApiClient(k8s.CoreV1Api);
  const pods = await core.listNamespacedPod({
    namespace,
    labelSelector: `samples.knative.dev/source-uid=${sourceUid}`,
  });
  return pods.items.filter(
    (p) =>
      !p.metadata?.deletionTimestamp &&
      p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  );
}

/** Watches a source and records every ConfigApplied status it passes through, in order. */
export async function recordConditions(namespace: string, name: string, type: string) {
  const seen: Array<{ generation: number; observed?: number; status: string; reason?: string }> = [];
  const watch = new k8s.Watch(adminKubeConfig());
  const req = await watch.watch(
    `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`,
    { fieldSelector: `metadata.name=${name}` },
    (_type, obj: SourceObject) => {
      const c = condition(obj, type);
      if (c)
        seen.push({
          generation: obj.metadata.generation,
          observed: obj.status?.observedGeneration,
          status: c.status,
          reason: c.reason,
        });
    },
    () => undefined,
  );
  return { seen, stop: () => req.abort() };
}

/** Median gap between consecutive arrivals, in ms. */
export function medianGap(times: number[]): number {
  const gaps = times
    .slice(1)
    .map((t, i) => t - times[i]!)
    .sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)] ?? Number.NaN;
}

/** `kubectl apply` of a manifest; returns stdout, or throws with kubectl's stderr (the user-visible message). */
export function kubectlApply(manifest: string, namespace: string): string {
  try {
    return kubectl(['apply', '-n', namespace, '-f', '-'], { input: manifest });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? (err as Error).message;
    throw new Error(stderr, { cause: err });
  }
}

/** Kubernetes Events recorded about a source, as `kubectl describe` lists them: "Type Reason: message". */
export async function sourceEvents(namespace: string, name: string): Promise<string[]> {
  const core = adminKubeConfig().makeApiClient(k8s.CoreV1Api);
  const list = await core.listNamespacedEvent({
    namespace,
    fieldSelector: `involvedObject.kind=SampleSource,involvedObject.name=${name}`,
  });
  return list.items.map((e) => `${e.type} ${e.reason}: ${e.message}`);
}

/** Label selector of the shared pool's pods (config/510-pool.yaml). */
export const POOL_SELECTOR = 'app.kubernetes.io/name=samplesource-pool';

/** The shared pool's pods in `namespace` that are Ready and not terminating, by name. */
export async function readyPoolPods(namespace: string): Promise<k8s.V1Pod[]> {
  const core = adminKubeConfig().makeApiClient(k8s.CoreV1Api);
  const pods = await core.listNamespacedPod({ namespace, labelSelector: POOL_SELECTOR });
  return pods.items
    .filter(
      (p) =>
        !p.metadata?.deletionTimestamp &&
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    )
    .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
}

/** Scales the pool with `kubectl scale`, as a user would, and waits until exactly `replicas` pods are Ready and no other is left. */
export async function scalePool(
  namespace: string,
  replicas: number,
  timeoutMs = 120_000,
): Promise<k8s.V1Pod[]> {
  kubectl(['-n', namespace, 'scale', 'deployment/samplesource-pool', `--replicas=${replicas}`]);
  return waitForPoolPods(namespace, replicas, timeoutMs);
}

/** Waits until exactly `count` pool pods are Ready and no terminating one is left. */
export async function waitForPoolPods(
  namespace: string,
  count: number,
  timeoutMs = 120_000,
): Promise<k8s.V1Pod[]> {
  const core = adminKubeConfig().makeApiClient(k8s.CoreV1Api);
  return eventually(
    `${count} Ready pool pods and no other`,
    async () => {
      const all = (await core.listNamespacedPod({ namespace, labelSelector: POOL_SELECTOR })).items;
      const ready = await readyPoolPods(namespace);
      return ready.length === count && all.length === count ? ready : undefined;
    },
    timeoutMs,
  );
}
