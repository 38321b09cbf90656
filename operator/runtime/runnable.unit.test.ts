import { RunnableGroup, aborted, needsLeaderElection, type Runnable } from './runnable.js';
import { silentLogger } from './logger.js';

/** A runnable that records its terms: started, then stopped once its signal aborted and `release` was called. */
function recorder(name: string, opts: { holdStop?: boolean; fail?: boolean } = {}) {
  const log: string[] = [];
  let release = () => {};
  const runnable: Runnable = {
    name,
    async run(signal) {
      log.push('start');
      if (opts.fail) throw new Error('boom');
      await aborted(signal);
      if (opts.holdStop) await new Promise<void>((r) => (release = r));
      log.push('stop');
    },
  };
  return { runnable, log, release: () => release() };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('RunnableGroup', () => {
  it('starts every runnable once per term and stop resolves after each returned', async () => {
    const group = new RunnableGroup(silentLogger());
    const a = recorder('a');
    const b = recorder('b');
    group.add(a.runnable);
    group.start();
    group.start(); // idempotent
    group.add(b.runnable); // joins the running term
    expect(group.running).toBe(true);
    await group.stop();
    expect(a.log).toEqual(['start', 'stop']);
    expect(b.log).toEqual(['start', 'stop']);
    group.start();
    await group.stop();
    expect(a.log).toEqual(['start', 'stop', 'start', 'stop']);
    expect(group.running).toBe(false);
  });

  it('defers a new term until the previous one has settled, and a stop cancels the deferred start', async () => {
    const group = new RunnableGroup(silentLogger());
    const a = recorder('a', { holdStop: true });
    group.add(a.runnable);
    group.start();
    const stopped = group.stop();
    await tick();
    group.start(); // regained leadership while the old term is still closing
    await tick();
    expect(a.log).toEqual(['start']); // no overlap between the two terms
    a.release();
    await stopped;
    await tick();
    expect(a.log).toEqual(['start', 'stop', 'start']);
    const second = group.stop();
    await tick();
    a.release();
    await second;
    group.start();
    const third = group.stop(); // start then stop in the same turn: nothing left running
    await tick();
    a.release();
    await third;
    expect(group.running).toBe(false);
    expect(a.log.filter((e) => e === 'start').length).toBe(a.log.filter((e) => e === 'stop').length);
  });

  it('logs a runnable that fails without stopping the others', async () => {
    const group = new RunnableGroup(silentLogger());
    const bad = recorder('bad', { fail: true });
    const good = recorder('good');
    group.add(bad.runnable);
    group.add(good.runnable);
    group.start();
    await group.stop();
    expect(bad.log).toEqual(['start']);
    expect(good.log).toEqual(['start', 'stop']);
  });

  it('binds runnables to leadership unless they opt out', () => {
    expect(needsLeaderElection({ name: 'x', run: async () => {} })).toBe(true);
    expect(needsLeaderElection({ name: 'x', needLeaderElection: false, run: async () => {} })).toBe(false);
  });
});
