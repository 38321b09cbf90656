// Placement of shared sources onto pool pods: consistent hashing with bounded loads (Mirrokni,
// Thorup, Zadimoghaddam 2018). Every pod owns VNODES points on a hash ring; a source goes to the
// first pod clockwise from its own hash that still has room, room being ceil(mean·(1+ε)). The
// result is a pure function of (sources, pods): any operator replica, after any restart,
// computes the same owner for the same membership, with no placement state to store or lose.
// docs/decisions/0009-shared-adapter-pool.md says why this and not a capacity scheduler.

/** Points per pod on the ring. Default 128: spreads load within a few % before the cap acts. */
export const DEFAULT_VNODES = 128;
/** Load slack ε above the mean. Default 0.1: no pod holds more than ceil(1.1·mean) ≤ 1.1·mean + 1. */
export const DEFAULT_LOAD_SLACK = 0.1;

/** Knobs of {@link place}. */
export interface PlacementOptions {
  /** Points per pod on the ring. Default {@link DEFAULT_VNODES}. */
  vnodes?: number;
  /** ε: a pod holds at most ceil(mean·(1+ε)) sources. Default {@link DEFAULT_LOAD_SLACK}. */
  loadSlack?: number;
}

/** Owner pod per source key. Sources are absent only when there are no pods. */
export type Placement = Map<string, string>;

/** 32-bit FNV-1a followed by murmur3's finaliser (FNV alone clusters on short similar keys). */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

interface RingPoint {
  hash: number;
  pod: string;
}

/** A pod's points on the ring, sorted; ties broken by pod name so that listing order never matters. */
export type Ring = readonly RingPoint[];

/** The ring of `pods` (sorted, distinct). */
export function buildRing(pods: readonly string[], vnodes = DEFAULT_VNODES): Ring {
  const ring: RingPoint[] = [];
  for (const pod of pods) for (let v = 0; v < vnodes; v++) ring.push({ hash: hash32(`${pod}#${v}`), pod });
  ring.sort((a, b) => a.hash - b.hash || (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
  return ring;
}

function firstAtOrAfter(ring: Ring, h: number): number {
  let lo = 0;
  let hi = ring.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ring[mid]!.hash < h) lo = mid + 1;
    else hi = mid;
  }
  return lo === ring.length ? 0 : lo;
}

/** The most sources one pod may hold: ceil(sources/pods·(1+ε)), at least 1. */
export function capacity(sources: number, pods: number, loadSlack = DEFAULT_LOAD_SLACK): number {
  if (pods === 0) return 0;
  return Math.max(1, Math.ceil((sources / pods) * (1 + loadSlack)));
}

/** A source key with its hash: placement walks keys in this order. */
export interface HashedKey {
  key: string;
  hash: number;
}

/** The placement order: by hash, then by key. */
export function compareHashed(a: HashedKey, b: HashedKey): number {
  return a.hash - b.hash || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** The keys of `sourceKeys` (distinct) in placement order. */
export function hashedOrder(sourceKeys: Iterable<string>): HashedKey[] {
  return [...new Set(sourceKeys)].map((key) => ({ key, hash: hash32(key) })).sort(compareHashed);
}

/**
 * The bounded-load walk: each key, in placement order, goes to the first pod clockwise from its
 * hash that still has room. `ordered` must be distinct and sorted by {@link compareHashed}, `ring`
 * built from the same (sorted, distinct) pods as `podList`.
 */
export function placeOrdered(
  ordered: readonly HashedKey[],
  podList: readonly string[],
  ring: Ring,
  loadSlack = DEFAULT_LOAD_SLACK,
): Placement {
  const placement: Placement = new Map();
  if (podList.length === 0) return placement;
  const cap = capacity(ordered.length, podList.length, loadSlack);
  const load = new Map<string, number>(podList.map((p) => [p, 0]));
  for (const { key, hash } of ordered) {
    // cap·pods ≥ keys, so the walk always finds room within one turn of the ring.
    for (
      let i = firstAtOrAfter(ring, hash), steps = 0;
      steps < ring.length;
      i = (i + 1) % ring.length, steps++
    ) {
      const pod = ring[i]!.pod;
      const n = load.get(pod)!;
      if (n < cap) {
        load.set(pod, n + 1);
        placement.set(key, pod);
        break;
      }
    }
  }
  return placement;
}

/** The distinct pods, sorted: the ring and the capacities do not depend on listing order. */
export function podOrder(pods: Iterable<string>): string[] {
  return [...new Set(pods)].sort();
}

/**
 * Assigns every source key to one pod. Deterministic: the same sets (in any order) give the
 * same placement. Keys are placed in the order of their hash, so which keys overflow a full pod
 * depends on the membership only.
 */
export function place(
  sourceKeys: Iterable<string>,
  pods: Iterable<string>,
  options: PlacementOptions = {},
): Placement {
  const podList = podOrder(pods);
  return placeOrdered(
    hashedOrder(sourceKeys),
    podList,
    buildRing(podList, options.vnodes ?? DEFAULT_VNODES),
    options.loadSlack ?? DEFAULT_LOAD_SLACK,
  );
}

/** Sources per pod (pods with none included). */
export function loads(placement: Placement, pods: Iterable<string>): Map<string, number> {
  const out = new Map<string, number>([...pods].map((p) => [p, 0]));
  for (const pod of placement.values()) out.set(pod, (out.get(pod) ?? 0) + 1);
  return out;
}

/** Keys whose owner differs between two placements (keys in only one of them are not counted). */
export function moved(before: Placement, after: Placement): string[] {
  const out: string[] = [];
  for (const [key, pod] of after) {
    const was = before.get(key);
    if (was !== undefined && was !== pod) out.push(key);
  }
  return out;
}

/**
 * The fewest moves any balanced placement needs on a resize from `fromPods` to `toPods` pods:
 * |from−to|/max(from,to) of the sources (1/N on adding the N-th pod).
 */
export function idealMovedFraction(fromPods: number, toPods: number): number {
  if (fromPods === 0 || toPods === 0) return 0;
  return Math.abs(fromPods - toPods) / Math.max(fromPods, toPods);
}
