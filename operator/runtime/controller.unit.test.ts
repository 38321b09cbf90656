import { Controller, TerminalError, type Reconciler } from './controller.js';
import { defaultRateLimiter } from './rate-limiter.js';
import { RuntimeMetrics } from './metrics.js';
import { ManualClock } from '../../control/clock.js';

const until = async (what: string, check: () => boolean, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('Controller', () => {
  it('retries a failing key with growing delays, then succeeds, while other keys keep flowing', async () => {
    const attempts: number[] = [];
    const others: string[] = [];
    const reconcile: Reconciler = async (req) => {
      if (req.name === 'bad') {
        attempts.push(Date.now());
        if (attempts.length < 5) throw new Error('not yet');
        return;
      }
      others.push(req.name);
    };
    const metrics = new RuntimeMetrics();
    const c = new Controller({
      name: 't',
      reconcile,
      workers: 2,
      rateLimiter: defaultRateLimiter({ baseDelayMs: 20 }),
      metrics,
    });
    c.start();
    c.enqueue('ns/bad');
    for (let i = 0; i < 20; i++) c.enqueue(`ns/good-${i}`);
    await until('bad reconciled 5 times', () => attempts.length >= 5);
    // Other keys did not wait for the failing one's retries.
    expect(others.length).toBe(20);
    // Each retry waits at least its doubled backoff (20, 40, 80, 160 ms); load can only add.
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(20 * 2 ** i - 2));
    await new Promise((r) => setTimeout(r, 400));
    expect(attempts.length).toBe(5);
    const retries = await metrics.retries.get();
    expect(retries.values[0]?.value).toBe(4);
    await c.stop(1_000);
  });

  it('does not retry a TerminalError and honours requeueAfter', async () => {
    let terminal = 0;
    const requeued: number[] = [];
    const c = new Controller({
      name: 't',
      reconcile: async (req) => {
        if (req.name === 'terminal') {
          terminal++;
          throw new TerminalError('bad spec');
        }
        requeued.push(Date.now());
        return requeued.length < 3 ? { requeueAfterMs: 100 } : undefined;
      },
      rateLimiter: defaultRateLimiter({ baseDelayMs: 5 }),
    });
    c.start();
    c.enqueue('ns/terminal');
    c.enqueue('ns/later');
    await until('three requeues', () => requeued.length >= 3);
    expect(requeued[2]! - requeued[0]!).toBeGreaterThanOrEqual(190);
    await new Promise((r) => setTimeout(r, 200));
    expect(terminal).toBe(1);
    expect(requeued.length).toBe(3);
    await c.stop(1_000);
  });

  it('stop lets in-flight reconciles finish within the grace period and then aborts them', async () => {
    let finished = 0;
    let aborted = 0;
    const c = new Controller({
      name: 't',
      workers: 2,
      reconcile: (req, ctx) =>
        new Promise<void>((resolve) => {
          const ms = req.name === 'slow' ? 10_000 : 50;
          const onAbort = () => {
            clearTimeout(t);
            aborted++;
            resolve();
          };
          const t = setTimeout(() => {
            ctx.signal.removeEventListener('abort', onAbort);
            finished++;
            resolve();
          }, ms);
          ctx.signal.addEventListener('abort', onAbort);
        }),
    });
    c.start();
    c.enqueue('ns/fast');
    c.enqueue('ns/slow');
    await new Promise((r) => setTimeout(r, 10));
    const started = Date.now();
    await c.stop(300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(finished).toBe(1);
    expect(aborted).toBe(1);
    c.enqueue('ns/ignored');
    expect(c.running).toBe(false);
  });

  it('on virtual time: retries at exactly the doubled backoff and requeues after the asked delay', async () => {
    const clock = new ManualClock();
    const attempts: number[] = [];
    const passes: number[] = [];
    const c = new Controller({
      name: 't',
      clock,
      rateLimiter: defaultRateLimiter({ baseDelayMs: 20, clock }),
      reconcile: async (req) => {
        if (req.name === 'bad') {
          attempts.push(clock.now());
          if (attempts.length < 5) throw new Error('not yet');
          return;
        }
        passes.push(clock.now());
        return passes.length < 3 ? { requeueAfterMs: 60_000 } : undefined;
      },
    });
    c.start();
    c.enqueue('ns/bad');
    c.enqueue('ns/poll');
    await clock.advance(0);
    await clock.advance(20 + 40 + 80 + 160 + 1);
    expect(attempts).toEqual([0, 20, 60, 140, 300]);
    await clock.advance(2 * 60_000);
    expect(passes).toEqual([0, 60_000, 120_000]);
    await clock.advance(10 * 60_000);
    expect(attempts).toHaveLength(5);
    expect(passes).toHaveLength(3);
    await c.stop(1_000);
  });
});
