// Removing everything a node created, whether it stopped cleanly or crashed: every process in its
// mount or network namespace or its cgroup subtree (containerd's shims outlive containerd and ignore
// SIGTERM; containers sit in the pod cgroups), then the namespaces, the cgroups and the state.
import { readdirSync, readlinkSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupProcesses, removeCgroupRoot } from './cgroups.js';
import { namespaceInode, removeMountNamespace } from './mountns.js';
import { removeNetwork, slotNetwork } from './network.js';
import { isAlive } from '../controlplane/processes.js';
import { tryRun } from './host.js';

/** Where a slot's claim lives: the owner's pid, the mount namespace file, the state dir's path. */
export const CLAIMS_DIR = '/run/samplesource-node';

/** The claim directory of a slot. */
export const claimDir = (slot: number) => join(CLAIMS_DIR, String(slot));

/** Processes whose mount or network namespace is one of the given inodes, or that sit in the cgroup subtree. */
export function nodeProcesses(
  mountInode: number | undefined,
  netInode: number | undefined,
  cgroup: string,
): number[] {
  const pids = cgroupProcesses(cgroup);
  const inode = (pid: string, ns: string) => {
    try {
      return Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/${ns}`))?.[1]);
    } catch {
      return undefined;
    }
  };
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    if ((mountInode && inode(entry, 'mnt') === mountInode) || (netInode && inode(entry, 'net') === netInode))
      pids.add(Number(entry));
  }
  pids.delete(process.pid);
  return [...pids];
}

/** SIGKILLs every process of the node until none is left (or 10 s pass); returns the pids still alive. */
export async function killNodeProcesses(
  mountInode: number | undefined,
  netInode: number | undefined,
  cgroup: string,
): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  let left = nodeProcesses(mountInode, netInode, cgroup);
  while (left.length > 0 && Date.now() < deadline) {
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await new Promise((r) => setTimeout(r, 100));
    left = nodeProcesses(mountInode, netInode, cgroup).filter(isAlive);
  }
  return left;
}

/** Removes a slot's processes, namespaces, cgroups, state dir and claim. Returns what could not be removed. */
export async function teardownSlot(slot: number): Promise<string[]> {
  const net = slotNetwork(slot);
  const claim = claimDir(slot);
  const nsFile = join(claim, 'mnt');
  const problems: string[] = [];
  const left = await killNodeProcesses(namespaceInode(nsFile), namespaceInode(net.netnsPath), net.netns);
  if (left.length) problems.push(`processes still alive: ${left.join(', ')}`);
  removeMountNamespace(nsFile);
  removeNetwork(net);
  // A cgroup stays busy for a moment after its last process died.
  let cgroupsLeft: string[] = [];
  for (let i = 0; i < 20; i++) {
    cgroupsLeft = removeCgroupRoot(net.netns);
    if (cgroupsLeft.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (cgroupsLeft.length) problems.push(`cgroups left: ${cgroupsLeft.join(', ')}`);
  const stateFile = join(claim, 'state-dir');
  if (existsSync(stateFile)) {
    const stateDir = readFileSync(stateFile, 'utf8').trim();
    if (stateDir.includes('samplesource-node-')) rmSync(stateDir, { recursive: true, force: true });
  }
  rmSync(claim, { recursive: true, force: true });
  removeEmptyDirs();
  return problems;
}

/**
 * The claims directory and `ip netns`'s /run/netns (which it makes a mount of its own) go too once
 * nobody uses them any more: no node of another run, no other user's namespace.
 */
function removeEmptyDirs(): void {
  const empty = (dir: string) => {
    try {
      return readdirSync(dir).length === 0;
    } catch {
      return false;
    }
  };
  if (empty(CLAIMS_DIR)) tryRun('rmdir', [CLAIMS_DIR]);
  if (empty('/run/netns')) {
    if (readFileSync('/proc/self/mountinfo', 'utf8').includes(' /run/netns '))
      tryRun('umount', ['/run/netns']);
    if (empty('/run/netns')) tryRun('rmdir', ['/run/netns']);
  }
}

/** Owner pid recorded in a claim, if its process still runs. */
function liveOwner(slot: number): boolean {
  try {
    const [pid, started] = readFileSync(join(claimDir(slot), 'owner'), 'utf8')
      .trim()
      .split(' ');
    return isAlive(Number(pid)) && processStartTime(Number(pid)) === started;
  } catch {
    return false;
  }
}

/** A process's start time (field 22 of /proc/<pid>/stat): pid plus start time names a process for good. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Tears down the nodes of earlier runs whose owner is gone (a crashed or killed run); returns their slots. */
export async function removeLeftovers(usedSlots: Iterable<number>): Promise<number[]> {
  const slots = new Set(usedSlots);
  if (existsSync(CLAIMS_DIR))
    for (const entry of readdirSync(CLAIMS_DIR)) if (/^\d+$/.test(entry)) slots.add(Number(entry));
  const removed: number[] = [];
  for (const slot of slots) {
    if (liveOwner(slot)) continue;
    // A claim younger than a second may be a run that is still writing its owner file.
    if (existsSync(claimDir(slot)) && !existsSync(join(claimDir(slot), 'owner'))) continue;
    await teardownSlot(slot);
    removed.push(slot);
  }
  return removed;
}
