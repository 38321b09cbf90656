// Talking to a running node from any process (the jest parent that started it, or a test worker):
// programs run inside its namespaces with nsenter, crictl and ctr against its containerd.
import { join } from 'node:path';
import { z } from 'zod';
import { CONTAINERD_SOCKET } from './configs.js';
import { run } from './host.js';
import { inNode } from './mountns.js';

/** What identifies a running node to a client. */
export interface NodeHandle {
  /** The node's name (also its netns and cgroup root). */
  name: string;
  /** The file pinning its mount namespace. */
  mountNamespace: string;
  /** /run/netns/<name>. */
  netnsPath: string;
  /** The node's binaries (build.sh). */
  binDir: string;
}

/** Operations on a running node. */
export interface NodeClient {
  /** Runs a program inside the node's mount namespace (and netns unless `hostNetwork`); returns stdout. */
  exec(bin: string, args: string[], options?: { hostNetwork?: boolean; input?: string }): string;
  /** crictl against the node's containerd. */
  crictl: (args: string[]) => string;
  /** ctr in containerd's Kubernetes namespace. */
  ctr: (args: string[]) => string;
  /** Imports an image tarball into containerd; returns the image names it held. */
  importImage(tarball: string): string[];
  /** The running container's id, if any. */
  containerId(namespace: string, pod: string, container: string): string | undefined;
  /** The host pid of a running container's main process (crictl inspect), if it runs. */
  containerPid(namespace: string, pod: string, container: string): number | undefined;
}

const dockerManifest = z.array(z.object({ RepoTags: z.array(z.string()).nullish() }).passthrough());
const inspected = z
  .object({ info: z.object({ pid: z.number().int().positive() }).passthrough() })
  .passthrough();

/** A client for the node `handle` names. */
export function nodeClient(handle: NodeHandle): NodeClient {
  const env = { ...process.env, PATH: `${handle.binDir}:${process.env.PATH}` };
  const exec: NodeClient['exec'] = (bin, args, options = {}) => {
    const [cmd, argv] = inNode(
      handle.mountNamespace,
      options.hostNetwork ? undefined : handle.netnsPath,
      bin,
      args,
    );
    return run(cmd, argv, { input: options.input, env });
  };
  const crictl = (args: string[]) =>
    exec(join(handle.binDir, 'crictl'), [
      `--runtime-endpoint=unix://${CONTAINERD_SOCKET}`,
      '--timeout=30s',
      ...args,
    ]);
  const ctr = (args: string[]) =>
    exec(join(handle.binDir, 'ctr'), [`--address=${CONTAINERD_SOCKET}`, '-n', 'k8s.io', ...args]);
  const containerId = (namespace: string, pod: string, container: string) =>
    crictl([
      'ps',
      '-q',
      '--state=running',
      `--label=io.kubernetes.pod.namespace=${namespace}`,
      `--label=io.kubernetes.pod.name=${pod}`,
      `--name=^${container}$`,
    ])
      .trim()
      .split('\n')
      .find(Boolean);
  return {
    exec,
    crictl,
    ctr,
    importImage(tarball) {
      ctr(['images', 'import', tarball]);
      // A docker-format tarball names its images in manifest.json (RepoTags, as the importer tags them).
      return dockerManifest
        .parse(JSON.parse(run('tar', ['-xOf', tarball, 'manifest.json'])))
        .flatMap((m) => m.RepoTags ?? []);
    },
    containerId,
    containerPid(namespace, pod, container) {
      const id = containerId(namespace, pod, container);
      return id ? inspected.parse(JSON.parse(crictl(['inspect', id]))).info.pid : undefined;
    },
  };
}

/** Environment variables a node's handle travels in (to jest workers, forked after the node started). */
export function exportNodeEnv(handle: NodeHandle): void {
  process.env.SAMPLESOURCE_NODE_NAME = handle.name;
  process.env.SAMPLESOURCE_NODE_MNT = handle.mountNamespace;
  process.env.SAMPLESOURCE_NODE_NETNS = handle.netnsPath;
  process.env.SAMPLESOURCE_NODE_BIN = handle.binDir;
}

/** The node published by {@link exportNodeEnv}, if any. */
export function nodeHandleFromEnv(): NodeHandle | undefined {
  const {
    SAMPLESOURCE_NODE_NAME: name,
    SAMPLESOURCE_NODE_MNT: mnt,
    SAMPLESOURCE_NODE_NETNS: netns,
    SAMPLESOURCE_NODE_BIN: bin,
  } = process.env;
  return name && mnt && netns && bin
    ? { name, mountNamespace: mnt, netnsPath: netns, binDir: bin }
    : undefined;
}
