import { Ticker } from './ticker.js';
import { ManualClock, SYSTEM_CLOCK, type Clock } from '../control/clock.js';

function record(intervalMs: number, clock: Clock = SYSTEM_CLOCK) {
  const ticks: number[] = []; // when each tick ran
  const scheduled: number[] = []; // when each tick was due
  const ticker = new Ticker(
    intervalMs,
    (due) => {
      ticks.push(clock.now());
      scheduled.push(due);
    },
    clock,
  );
  return { ticks, scheduled, ticker };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Real time: smoke tests that the system clock's timers keep the grid, and a truly blocked loop.
describe('Ticker', () => {
  it('ticks at once, then on a fixed grid that does not drift', async () => {
    const { ticks, scheduled, ticker } = record(50);
    ticker.start();
    await sleep(1_030);
    ticker.stop();
    expect(ticks.length).toBeGreaterThanOrEqual(15);
    // Every tick is due on the grid start + k·50, whatever the lateness of earlier ticks
    // (k may skip a step if the machine stalled past a whole interval)…
    const steps = scheduled.map((due) => (due - scheduled[0]!) / 50);
    for (const k of steps) expect(Math.abs(k - Math.round(k))).toBeLessThan(1e-6);
    expect(steps.slice(1).every((k, i) => k > steps[i]!)).toBe(true);
    // …and each runs close to its due time: lateness does not accumulate.
    const lateness = ticks.map((t, n) => t - scheduled[n]!).sort((a, b) => a - b);
    expect(lateness[Math.floor(lateness.length / 2)]).toBeLessThan(15);
  });

  it('does not catch up after the event loop was blocked: skips, no burst', async () => {
    const { ticks, scheduled, ticker } = record(50);
    ticker.start();
    await sleep(120);
    const blockedUntil = performance.now() + 300;
    while (performance.now() < blockedUntil); // block the loop for 6 intervals
    await sleep(200);
    ticker.stop();
    // Due times stay at least an interval apart: the missed ticks were skipped, not fired together.
    const gaps = scheduled.slice(1).map((t, i) => t - scheduled[i]!);
    expect(gaps.filter((g) => g < 49.9)).toEqual([]);
    expect(gaps.some((g) => g >= 300)).toBe(true);
    expect(ticks.length).toBe(scheduled.length);
  });
});

// Virtual time (a ManualClock): exact, and independent of the machine's load.
describe('Ticker on virtual time', () => {
  it('applies a new interval from the next tick, never closer than an interval to the last one', async () => {
    const clock = new ManualClock(10_000);
    const { ticks, scheduled, ticker } = record(5_000, clock);
    ticker.start();
    await clock.advance(50); // one tick so far, the next due in 5 s
    const changedAt = clock.now();
    ticker.setInterval(100);
    await clock.advance(450);
    ticker.stop();
    // The next tick comes one new interval after the last (or now, if that has passed), not 5 s later…
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    expect(scheduled[1]! - scheduled[0]!).toBeGreaterThanOrEqual(100);
    expect(scheduled[1]! - Math.max(changedAt, scheduled[0]! + 100)).toBeLessThan(1);
    // …and the ones after follow the new grid.
    for (const due of scheduled.slice(2)) {
      const k = (due - scheduled[1]!) / 100;
      expect(Math.abs(k - Math.round(k))).toBeLessThan(1e-6);
    }
    // On virtual time every tick runs exactly when due.
    expect(ticks).toEqual(scheduled);
  });

  it('resumes one interval after the last tick, or at once if that has passed', async () => {
    const clock = new ManualClock(10_000);
    const { ticks, scheduled, ticker } = record(400, clock);
    ticker.start();
    await clock.advance(20);
    ticker.stop();
    ticker.start(); // paused and resumed within an interval: no extra tick now…
    await clock.advance(150);
    expect(ticks).toHaveLength(1);
    await clock.advance(400);
    expect(ticks).toHaveLength(2);
    expect(scheduled[1]! - scheduled[0]!).toBe(400); // …but one interval after the last one
    ticker.stop();
    await clock.advance(500);
    const resumedAt = clock.now();
    ticker.start(); // paused longer than an interval: tick at once
    await clock.advance(30);
    ticker.stop();
    expect(ticks).toHaveLength(3);
    expect(scheduled[2]! - resumedAt).toBeLessThan(5);
  });

  it('ticks on a fixed grid for an hour of virtual time without drift', async () => {
    const clock = new ManualClock();
    const { ticks, scheduled, ticker } = record(1_000, clock);
    ticker.start();
    await clock.advance(3_600_000 - 1);
    ticker.stop();
    expect(ticks).toHaveLength(3_600);
    expect(scheduled.every((due, k) => due === k * 1_000)).toBe(true);
  });
});
