// The incremental placer against the pure function it keeps up to date: after every step of a
// sequence of adds, removals and membership changes its placement equals place() over the same
// sets, and an unchanged set is not placed again.
import { place } from './placement.js';
import { Placer } from './placer.js';

const poolPods = (n: number) => Array.from({ length: n }, (_, i) => `samplesource-pool-${i}`);
const key = (i: number) => `ns-${i % 7}/source-${i}`;

type Step = { add: [from: number, to: number] } | { remove: [from: number, to: number] } | { pods: number };

describe('Placer (kept up to date) equals place() (table)', () => {
  it.each<{ name: string; steps: Step[] }>([
    {
      name: 'a burst of adds onto 3 pods, in batches',
      steps: [{ pods: 3 }, { add: [0, 1] }, { add: [1, 50] }, { add: [50, 2_000] }, { add: [2_000, 2_001] }],
    },
    {
      name: 'adds, removals and resizes interleaved',
      steps: [
        { pods: 2 },
        { add: [0, 500] },
        { pods: 3 },
        { remove: [100, 300] },
        { add: [1_000, 1_200] },
        { pods: 5 },
        { remove: [0, 50] },
        { pods: 1 },
        { add: [100, 300] },
      ],
    },
    {
      name: 'no pods, then some',
      steps: [{ pods: 0 }, { add: [0, 20] }, { pods: 4 }, { remove: [0, 20] }, { add: [5, 6] }],
    },
  ])('$name', ({ steps }) => {
    const placer = new Placer();
    const keys = new Set<string>();
    let pods: string[] = [];
    for (const step of steps) {
      if ('pods' in step) pods = poolPods(step.pods);
      else if ('add' in step)
        for (let i = step.add[0]; i < step.add[1]; i++) {
          placer.add(key(i));
          placer.add(key(i)); // twice: a repeated upsert
          keys.add(key(i));
        }
      else
        for (let i = step.remove[0]; i < step.remove[1]; i++) {
          placer.delete(key(i));
          keys.delete(key(i));
        }
      // Pods listed in another order: the placement does not depend on it.
      const got = placer.placement([...pods].reverse());
      expect(placer.size).toBe(keys.size);
      expect([...got].sort()).toEqual([...place(keys, pods)].sort());
    }
  });

  it('places an unchanged set once: the same result until a key or the membership changes', () => {
    const placer = new Placer();
    for (let i = 0; i < 100; i++) placer.add(key(i));
    const first = placer.placement(poolPods(3));
    expect(placer.placement(poolPods(3))).toBe(first);
    placer.add(key(0)); // known already: nothing changed
    expect(placer.placement(poolPods(3))).toBe(first);
    placer.add(key(100));
    const second = placer.placement(poolPods(3));
    expect(second).not.toBe(first);
    expect(placer.placement(poolPods(4))).not.toBe(second);
  });
});
