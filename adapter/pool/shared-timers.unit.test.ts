// The pool's one timer for all sources, on virtual time (a ManualClock underneath): due order,
// cancellation, re-arming for an earlier entry, callbacks that set or cancel timers, a throwing
// callback, ref/unref, and many tickers on it keeping their grids.
import { ManualClock, SYSTEM_CLOCK } from '../../control/clock.js';
import { Ticker } from '../ticker.js';
import { SharedTimers } from './shared-timers.js';

function setup() {
  const base = new ManualClock(1_000);
  const timers = new SharedTimers(base);
  const fired: string[] = [];
  const at = (name: string, ms: number) => timers.setTimer(() => fired.push(`${name}@${timers.now()}`), ms);
  return { base, timers, fired, at };
}

describe('SharedTimers', () => {
  it('fires entries in due order (ties in creation order) on one underlying timer', async () => {
    const { base, timers, fired, at } = setup();
    at('c', 30);
    at('a', 10);
    at('b', 20);
    at('a2', 10);
    expect(timers.pending).toBe(4);
    // One timer of the base clock, whatever the number of entries.
    expect(base.pending).toBe(1);
    await base.advance(15);
    expect(fired).toEqual(['a@1010', 'a2@1010']);
    await base.advance(100);
    expect(fired).toEqual(['a@1010', 'a2@1010', 'b@1020', 'c@1030']);
    expect(timers.pending).toBe(0);
    // Nothing left armed once empty: no timer keeps the process alive.
    expect(base.pending).toBe(0);
  });

  it('re-arms for an entry earlier than the one armed for, and never fires one early', async () => {
    const { base, fired, at } = setup();
    at('late', 100);
    at('early', 5);
    await base.advance(4);
    expect(fired).toEqual([]);
    await base.advance(1);
    expect(fired).toEqual(['early@1005']);
    await base.advance(94);
    expect(fired).toEqual(['early@1005']);
    await base.advance(1);
    expect(fired).toEqual(['early@1005', 'late@1100']);
  });

  it('cancels any entry (first, middle, last, twice, after firing) without disturbing the rest', async () => {
    const { base, timers, fired, at } = setup();
    const handles = Array.from({ length: 50 }, (_, i) => at(`t${i}`, 10 + ((i * 37) % 50)));
    const cancelled = new Set([0, 7, 13, 14, 25, 49]);
    for (const i of cancelled) handles[i]!.cancel();
    handles[7]!.cancel();
    expect(timers.pending).toBe(44);
    await base.advance(100);
    const expected = handles
      .map((_, i) => ({ i, due: 1_010 + ((i * 37) % 50) }))
      .filter(({ i }) => !cancelled.has(i))
      .sort((a, b) => a.due - b.due || a.i - b.i)
      .map(({ i, due }) => `t${i}@${due}`);
    expect(fired).toEqual(expected);
    handles[1]!.cancel(); // already fired: nothing happens
    expect(timers.pending).toBe(0);
    expect(base.pending).toBe(0);
  });

  it('cancelling the only entry disarms the underlying timer', async () => {
    const { base, fired, at } = setup();
    const only = at('x', 10);
    expect(base.pending).toBe(1);
    only.cancel();
    expect(base.pending).toBe(0);
    await base.advance(50);
    expect(fired).toEqual([]);
  });

  it('a callback may set a 0 ms timer (it runs on the next turn, never in a loop) and cancel a due one', async () => {
    const { base, timers, fired, at } = setup();
    const handles: { doomed?: ReturnType<typeof at> } = {};
    timers.setTimer(() => {
      fired.push(`first@${timers.now()}`);
      handles.doomed?.cancel();
      at('again', 0);
    }, 10);
    handles.doomed = at('doomed', 10);
    await base.advance(10);
    expect(fired).toEqual(['first@1010', 'again@1010']);
    expect(timers.pending).toBe(0);
  });

  it('a throwing callback does not stop the others due with it; its error goes to onError', async () => {
    const base = new ManualClock(1_000);
    const thrown: unknown[] = [];
    const timers = new SharedTimers(base, (err) => thrown.push(err));
    const fired: string[] = [];
    timers.setTimer(() => {
      throw new Error('boom');
    }, 10);
    timers.setTimer(() => fired.push('after'), 10);
    await base.advance(10);
    expect(fired).toEqual(['after']);
    expect(thrown).toHaveLength(1);
    expect((thrown[0] as Error).message).toBe('boom');
  });

  it('keeps the process alive only while a ref’d entry is pending (real clock)', async () => {
    const timers = new SharedTimers(SYSTEM_CLOCK);
    const fired: string[] = [];
    const a = timers.setTimer(() => fired.push('a'), 5).unref();
    // Only unref'd entries: the underlying Node timer is unref'd too.
    const handles = () =>
      (process as unknown as { getActiveResourcesInfo(): string[] })
        .getActiveResourcesInfo()
        .filter((r) => r === 'Timeout').length;
    const before = handles();
    timers.setTimer(() => fired.push('b'), 10);
    expect(handles()).toBe(before + 1);
    a.cancel();
    await new Promise((r) => setTimeout(r, 40));
    expect(fired).toEqual(['b']);
    expect(timers.pending).toBe(0);
  });

  it('carries many tickers, each on its own drift-free grid', async () => {
    const base = new ManualClock(0);
    const timers = new SharedTimers(base);
    const ticks = new Map<number, number[]>();
    const tickers = [50, 70, 110, 130].map((interval) => {
      ticks.set(interval, []);
      return new Ticker(interval, (due) => ticks.get(interval)!.push(due), timers);
    });
    for (const t of tickers) t.start();
    expect(base.pending).toBe(1);
    await base.advance(1_000);
    for (const [interval, dues] of ticks) {
      expect(dues).toEqual(Array.from({ length: Math.floor(1_000 / interval) + 1 }, (_, n) => n * interval));
    }
    tickers[0]!.stop();
    tickers[1]!.setInterval(200);
    await base.advance(400);
    expect(ticks.get(50)!.at(-1)).toBe(1_000);
    // Re-anchored at max(now, last tick + new interval) = max(1,000, 980 + 200), then every 200.
    expect(ticks.get(70)!.slice(-2)).toEqual([1_180, 1_380]);
    for (const t of tickers) t.stop();
    expect(timers.pending).toBe(0);
  });
});
