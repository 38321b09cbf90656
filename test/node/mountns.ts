// The node's private mount namespace, kept alive by a bind mount of its nsfs file, shared by
// containerd, its shims, kubelet and buildkitd (they must all see the same mounts, as in a kind node
// container). Inside: tmpfs on /run, the node's own state on /var/lib and /var/log, and files holding the values
// kubelet wants bound over the host-global kernel tunables it would otherwise rewrite.
import { mkdirSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run, tryRun } from './host.js';

/** The host-global sysctls kubelet's setupKernelTunables writes, and the values it wants. */
export const KUBELET_TUNABLES: Record<string, number> = {
  'vm/overcommit_memory': 1,
  'vm/panic_on_oom': 0,
  'kernel/panic': 10,
  'kernel/panic_on_oops': 1,
  'kernel/keys/root_maxkeys': 1000000,
  'kernel/keys/root_maxbytes': 25000000,
};

/** Creates the mount namespace pinned at `nsFile`, with `stateDir` bound on /var/lib inside it. */
export function createMountNamespace(nsFile: string, stateDir: string): void {
  const tunables = join(stateDir, 'tunables');
  mkdirSync(tunables, { recursive: true });
  mkdirSync(join(stateDir, 'var-lib'), { recursive: true });
  mkdirSync(join(stateDir, 'var-log'), { recursive: true });
  writeFileSync(nsFile, '');
  const binds: string[] = [];
  for (const [name, value] of Object.entries(KUBELET_TUNABLES)) {
    const current = Number(readFileSync(`/proc/sys/${name}`, 'utf8').trim());
    if (current === value) continue;
    const file = join(tunables, name.replaceAll('/', '.'));
    writeFileSync(file, `${value}\n`);
    binds.push(`mount --bind ${file} /proc/sys/${name}`);
  }
  const script = [
    'set -e',
    'mount -t tmpfs -o mode=0755 tmpfs /run',
    `mount --bind ${join(stateDir, 'var-lib')} /var/lib`,
    // kubelet links container logs under /var/log/containers (a fixed path): the node's own, too.
    `mount --bind ${join(stateDir, 'var-log')} /var/log`,
    ...binds,
  ].join('\n');
  run('unshare', [`--mount=${nsFile}`, '--propagation', 'private', '--', 'sh', '-c', script]);
}

/** The inode of a namespace file: what /proc/<pid>/ns/mnt of a process inside it links to. */
export function namespaceInode(nsFile: string): number | undefined {
  try {
    return statSync(nsFile).ino;
  } catch {
    return undefined;
  }
}

/** Unpins the namespace; it disappears once no process is left in it. */
export function removeMountNamespace(nsFile: string): void {
  if (existsSync(nsFile)) tryRun('umount', ['-l', nsFile]);
}

/** The command line that runs `bin args` inside the node's mount namespace (and its netns if given). */
export function inNode(
  nsFile: string,
  netnsPath: string | undefined,
  bin: string,
  args: string[],
): [string, string[]] {
  const ns = [`--mount=${nsFile}`, ...(netnsPath ? [`--net=${netnsPath}`] : [])];
  return ['nsenter', [...ns, '--', bin, ...args]];
}
