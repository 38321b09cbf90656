// The node's network: a network namespace of its own joined to the host by a veth pair on a /30
// from a range of our own (10.231.0.0/16, unused on this kind of machine). Nothing host-wide changes:
// forwarding is switched on inside the node's namespace only (the setting is per namespace).
import { run, tryRun } from './host.js';

/** Where a node slot's addresses and names come from. */
export interface NodeNetwork {
  /** The slot number; every name below derives from it. */
  readonly slot: number;
  /** `ip netns` name, also the node's cgroup root and hostname. */
  readonly netns: string;
  /** /run/netns/<netns>, for nsenter. */
  readonly netnsPath: string;
  /** The veth's host end interface name. */
  readonly hostInterface: string;
  /** Address of the veth's host end (the API server listens here). */
  readonly hostAddress: string;
  /** Address of the node inside its namespace (kubelet, node InternalIP). */
  readonly nodeAddress: string;
}

/** Number of /30s in 10.231.0.0/16. */
export const SLOTS = 16384;

/** Names and addresses of a slot (nothing is created). */
export function slotNetwork(slot: number): NodeNetwork {
  const base = slot * 4;
  const third = Math.floor(base / 256);
  const fourth = base % 256;
  const netns = `samplesource-node-${slot}`;
  return {
    slot,
    netns,
    netnsPath: `/run/netns/${netns}`,
    hostInterface: `ssnode${slot}`,
    hostAddress: `10.231.${third}.${fourth + 1}`,
    nodeAddress: `10.231.${third}.${fourth + 2}`,
  };
}

/** Creates the namespace and the veth pair, addresses them, and routes the node through the host end. */
export function createNetwork(net: NodeNetwork): void {
  run('ip', ['netns', 'add', net.netns]);
  run('ip', ['link', 'add', net.hostInterface, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', net.netns]);
  run('ip', ['addr', 'add', `${net.hostAddress}/30`, 'dev', net.hostInterface]);
  run('ip', ['link', 'set', net.hostInterface, 'up']);
  const inNode = (...args: string[]) => run('ip', ['netns', 'exec', net.netns, ...args]);
  inNode('ip', 'link', 'set', 'lo', 'up');
  inNode('ip', 'addr', 'add', `${net.nodeAddress}/30`, 'dev', 'eth0');
  inNode('ip', 'link', 'set', 'eth0', 'up');
  inNode('ip', 'route', 'add', 'default', 'via', net.hostAddress);
  // Pod traffic is routed by the node's namespace: per-namespace settings, the host's stay as they are.
  inNode('sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
  inNode('sysctl', '-q', '-w', 'net.ipv4.conf.all.route_localnet=1');
}

/** Deletes the namespace (the veth pair goes with it) and the host end if it survived. */
export function removeNetwork(net: NodeNetwork): void {
  tryRun('ip', ['netns', 'delete', net.netns]);
  tryRun('ip', ['link', 'delete', net.hostInterface]);
}

/** Slots whose namespace or host interface exists (in use or left over). */
export function slotsInUse(): Set<number> {
  const used = new Set<number>();
  for (const line of (tryRun('ip', ['netns', 'list']) ?? '').split('\n')) {
    const m = /^samplesource-node-(\d+)/.exec(line);
    if (m) used.add(Number(m[1]));
  }
  for (const line of (tryRun('ip', ['-o', 'link', 'show']) ?? '').split('\n')) {
    const m = /^\d+: ssnode(\d+)[@:]/.exec(line);
    if (m) used.add(Number(m[1]));
  }
  // Anything else on the machine using our range rules a slot out too.
  for (const line of (tryRun('ip', ['-o', '-4', 'addr', 'show']) ?? '').split('\n')) {
    const m = /inet 10\.231\.(\d+)\.(\d+)\//.exec(line);
    if (m) used.add(Math.floor((Number(m[1]) * 256 + Number(m[2])) / 4));
  }
  return used;
}
