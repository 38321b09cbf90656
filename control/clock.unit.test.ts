import { ManualClock, SYSTEM_CLOCK, every, sleepOn } from './clock.js';

describe('ManualClock', () => {
  it('fires timers in due order at their own due time, including timers they set within the step', async () => {
    const clock = new ManualClock(1_000);
    const fired: Array<[string, number]> = [];
    clock.setTimer(() => fired.push(['b', clock.now()]), 20);
    clock.setTimer(() => {
      fired.push(['a', clock.now()]);
      clock.setTimer(() => fired.push(['a2', clock.now()]), 15); // due at 1_025, within the step
    }, 10);
    const cancelled = clock.setTimer(() => fired.push(['never', clock.now()]), 5);
    cancelled.cancel();
    await clock.advance(30);
    expect(fired).toEqual([
      ['a', 1_010],
      ['b', 1_020],
      ['a2', 1_025],
    ]);
    expect(clock.now()).toBe(1_030);
    expect(clock.pending).toBe(0);
  });

  it('leaves timers due after the step pending', async () => {
    const clock = new ManualClock();
    let fired = false;
    clock.setTimer(() => (fired = true), 100);
    await clock.advance(99);
    expect(fired).toBe(false);
    await clock.advance(1);
    expect(fired).toBe(true);
  });
});

describe('sleepOn', () => {
  it('resolves after the time on the given clock, or at once when aborted', async () => {
    const clock = new ManualClock();
    let slept = false;
    void sleepOn(clock, 500).then(() => (slept = true));
    await clock.advance(499);
    expect(slept).toBe(false);
    await clock.advance(1);
    expect(slept).toBe(true);
    const abort = new AbortController();
    const early = sleepOn(clock, 10_000, abort.signal);
    abort.abort();
    await early;
    expect(clock.pending).toBe(0); // its timer was cancelled
  });

  it('waits real time on the system clock (smoke)', async () => {
    const started = performance.now();
    await sleepOn(SYSTEM_CLOCK, 30);
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
  });
});

describe('every', () => {
  it('runs on every period of the given clock until cancelled, and keeps going when the callback throws', async () => {
    const clock = new ManualClock();
    const at: number[] = [];
    const timer = every(clock, 100, () => {
      at.push(clock.now());
      if (at.length === 2) throw new Error('a failing run must not stop the next ones');
    });
    await clock.advance(99);
    expect(at).toEqual([]);
    // The throw surfaces from the timer (as from a setInterval callback); the ManualClock lets it through.
    await clock.advance(1);
    await expect(clock.advance(100)).rejects.toThrow('a failing run');
    await clock.advance(100);
    expect(at).toEqual([100, 200, 300]);
    timer.cancel();
    await clock.advance(1_000);
    expect(at).toEqual([100, 200, 300]);
    expect(clock.pending).toBe(0);
  });
});
