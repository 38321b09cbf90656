// The node's cgroup subtree: /<netns name> in every cgroup v1 hierarchy (kubelet's cgroupRoot, with
// the cgroupfs driver); pods land under it. Removed, with every process in it, when the node stops.
import {
  existsSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  mkdirSync,
  writeFileSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * The v1 hierarchies mounted here (cpu, memory, ..., name=systemd), as directories under /sys/fs/cgroup;
 * with `withUnified`, also the cgroup2 mount (unified/), where runc creates a cgroup of its own too.
 */
export function hierarchies(withUnified = false): string[] {
  if (!existsSync(CGROUP_ROOT)) return [];
  return readdirSync(CGROUP_ROOT)
    .map((name) => join(CGROUP_ROOT, name))
    .filter((dir) => {
      try {
        // The node's root is not created in the cgroup2 mount (its controllers are bound to v1 here),
        // but what runc leaves there is removed with the rest.
        return (
          statSync(dir).isDirectory() &&
          (withUnified || !dir.endsWith('/unified')) &&
          existsSync(join(dir, 'cgroup.procs'))
        );
      } catch {
        return false;
      }
    });
}

/** Creates /<name> in every hierarchy; cpuset needs cpus and mems copied from its parent first. */
export function createCgroupRoot(name: string): void {
  for (const hierarchy of hierarchies()) {
    const dir = join(hierarchy, name);
    mkdirSync(dir, { recursive: true });
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const parent = join(hierarchy, file);
      if (existsSync(parent)) writeFileSync(join(dir, file), readFileSync(parent, 'utf8').trim() || '\n');
    }
  }
}

/** Process ids in the subtree /<name> of any hierarchy. */
export function cgroupProcesses(name: string): Set<number> {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    try {
      for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n'))
        if (line.trim()) pids.add(Number(line));
      for (const entry of readdirSync(dir, { withFileTypes: true }))
        if (entry.isDirectory()) walk(join(dir, entry.name));
    } catch {
      /* gone meanwhile */
    }
  };
  for (const hierarchy of hierarchies(true)) walk(join(hierarchy, name));
  return pids;
}

/** Removes the subtree bottom-up (cgroups can only be removed once empty). Returns the dirs left. */
export function removeCgroupRoot(name: string): string[] {
  const left: string[] = [];
  const remove = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true }))
      if (entry.isDirectory()) remove(join(dir, entry.name));
    try {
      rmdirSync(dir);
    } catch {
      left.push(dir);
    }
  };
  for (const hierarchy of hierarchies(true)) remove(join(hierarchy, name));
  return left;
}
