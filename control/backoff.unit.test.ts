import { backoffDelay } from './backoff.js';
import { DedupWindow } from './dedup.js';

describe('backoffDelay', () => {
  it('grows exponentially, is capped, and never gives up', () => {
    const mid = () => 0.5; // no jitter effect at the midpoint
    expect(backoffDelay(0, { initialMs: 100 }, mid)).toBe(100);
    expect(backoffDelay(3, { initialMs: 100 }, mid)).toBe(800);
    expect(backoffDelay(10_000, { initialMs: 100, maxMs: 5000 }, mid)).toBe(5000);
  });

  it('caps at 1 s by default, so a short outage never costs seconds of sleep', () => {
    expect(backoffDelay(50, {}, () => 0.999)).toBeLessThanOrEqual(1000);
    expect(backoffDelay(3, {}, () => 0.5)).toBe(800);
  });

  it('jitters within the configured fraction and stays under the cap', () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(2, { initialMs: 100, jitter: 0.2, maxMs: 1000 });
      expect(d).toBeGreaterThanOrEqual(320);
      expect(d).toBeLessThanOrEqual(480);
    }
    expect(backoffDelay(20, { maxMs: 1000, jitter: 1 }, () => 0.999)).toBeLessThanOrEqual(1000);
  });

  it('with upward jitter never goes below the exponential value (Knative retries)', () => {
    const upward = { initialMs: 100, maxMs: 1000, jitter: 0.5, upwardJitter: true };
    expect([0, 1, 2].map((a) => backoffDelay(a, upward, () => 0))).toEqual([100, 200, 400]);
    expect([0, 1, 2].map((a) => backoffDelay(a, upward, () => 0.5))).toEqual([125, 250, 500]);
    expect(backoffDelay(3, upward, () => 0.999)).toBe(1000);
  });
});

describe('DedupWindow', () => {
  it('remembers acks and forgets the oldest beyond capacity', () => {
    const w = new DedupWindow(2);
    w.remember('a', null);
    w.remember('b', { code: 'X', message: 'no' });
    expect(w.get('b')).toEqual({ code: 'X', message: 'no' });
    w.remember('c', null);
    expect(w.get('a')).toBeUndefined();
    expect(w.get('c')).toBeNull();
    expect(w.size).toBe(2);
  });
});
