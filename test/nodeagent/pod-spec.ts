// Turns a Pod's container spec into what a local process needs: argv, environment, files.
// This is the part of a kubelet that the node agent imitates; it reads Pods as plain JSON.
import type * as k8s from '@kubernetes/client-node';

/** How an image runs on this machine: the command that stands in for its entrypoint. */
export interface ImageCommand {
  command: string;
  args: string[];
}

/** Image name prefix (without tag) mapped to a local command. */
export type ImageMap = Record<string, ImageCommand>;

/** Finds the local command for an image; undefined when the agent does not run this image. */
export function commandForImage(image: string, images: ImageMap): ImageCommand | undefined {
  const name = image.replace(/[:@].*$/, '');
  const match = Object.keys(images)
    .filter((prefix) => name === prefix || name.endsWith(`/${prefix}`) || name.startsWith(prefix))
    .sort((a, b) => b.length - a.length)[0];
  return match ? images[match] : undefined;
}

/**
 * The local command for a container: its image's, except that a `command: [node, dist/<script>]`
 * (the pool's entry point on the adapter image) runs that script of the same tree instead, as a
 * container's command replaces its image's entrypoint.
 */
export function commandForContainer(
  container: { image?: string; command?: string[] },
  images: ImageMap,
): ImageCommand | undefined {
  const base = commandForImage(container.image ?? '', images);
  const [exe, script, ...rest] = container.command ?? [];
  if (!base || exe !== 'node' || !script?.startsWith('dist/')) return base;
  const at = base.args.findIndex((a) => a.includes('/dist/'));
  if (at < 0) return base;
  const root = base.args[at]!.slice(0, base.args[at]!.indexOf('/dist/') + 1);
  return { command: base.command, args: [...base.args.slice(0, at), root + script, ...rest] };
}

/** Values the downward API can take from a Pod. */
function fieldValue(pod: k8s.V1Pod, fieldPath: string, podIP: string): string {
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata?.name ?? '';
    case 'metadata.namespace':
      return pod.metadata?.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata?.uid ?? '';
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? 'default';
    case 'status.podIP':
    case 'status.hostIP':
      return podIP;
    default:
      throw new Error(`unsupported downward API field ${fieldPath}`);
  }
}

/** Expands $(VAR) references the way the kubelet does; unknown references stay as written. */
export function expandReferences(value: string, env: Record<string, string>): string {
  return value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
}

/** Source of Secret and ConfigMap data for env references. */
export interface DataLookup {
  secret(name: string): Promise<Record<string, string> | undefined>;
}

/**
 * The container's environment: literal values, downward API fields and Secret keys, with mount
 * paths rewritten to the local directories that stand in for them.
 */
export async function containerEnv(
  pod: k8s.V1Pod,
  container: k8s.V1Container,
  podIP: string,
  mounts: Record<string, string>,
  lookup: DataLookup,
): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const entry of container.env ?? []) {
    let value: string | undefined;
    if (entry.value !== undefined) value = expandReferences(entry.value, env);
    else if (entry.valueFrom?.fieldRef) value = fieldValue(pod, entry.valueFrom.fieldRef.fieldPath, podIP);
    else if (entry.valueFrom?.secretKeyRef) {
      const data = await lookup.secret(entry.valueFrom.secretKeyRef.name!);
      value = data?.[entry.valueFrom.secretKeyRef.key];
      if (value === undefined && !entry.valueFrom.secretKeyRef.optional) {
        throw new Error(
          `secret ${entry.valueFrom.secretKeyRef.name} key ${entry.valueFrom.secretKeyRef.key} not found`,
        );
      }
    }
    if (value !== undefined) env[entry.name] = rewriteMountPaths(value, mounts);
  }
  return env;
}

/** Replaces a container mount path (or a path below it) with its local directory. */
export function rewriteMountPaths(value: string, mounts: Record<string, string>): string {
  for (const [mountPath, localDir] of Object.entries(mounts)) {
    if (value === mountPath || value.startsWith(`${mountPath}/`))
      return localDir + value.slice(mountPath.length);
  }
  return value;
}

/** A container port by name or number. */
export function resolvePort(container: k8s.V1Container, port: number | string): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = container.ports?.find((p) => p.name === port);
  if (!named) throw new Error(`container ${container.name} has no port named ${port}`);
  return named.containerPort;
}
