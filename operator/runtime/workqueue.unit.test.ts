import { WorkQueue } from './workqueue.js';
import { BucketRateLimiter, ExponentialRateLimiter, defaultRateLimiter } from './rate-limiter.js';
import { ManualClock } from '../../control/clock.js';

describe('WorkQueue', () => {
  it('deduplicates a key that is already waiting', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('a');
    q.add('b');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('holds back a key re-added while it is processed until done()', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = await q.get();
    q.add('a');
    expect(q.length).toBe(0);
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await new Promise((r) => setImmediate(r));
    expect(second).toBeUndefined();
    q.done(key!);
    await new Promise((r) => setImmediate(r));
    expect(second).toBe('a');
  });

  it('addAfter keeps the earliest due time', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 1_000);
    q.addAfter('a', 20);
    q.addAfter('a', 5_000);
    const started = Date.now();
    expect(await q.get()).toBe('a');
    expect(Date.now() - started).toBeLessThan(900);
    q.shutdown();
  });

  it('addAfter on virtual time: due exactly at the earliest time asked, and once', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock });
    q.addAfter('a', 1_000);
    q.addAfter('a', 20);
    q.addAfter('a', 5_000);
    let got: string | undefined;
    void q.get().then((k) => (got = k));
    await clock.advance(19);
    expect(got).toBeUndefined();
    await clock.advance(1);
    expect(got).toBe('a');
    q.done('a');
    await clock.advance(10_000); // the later asks were dropped, not queued again
    expect(q.length).toBe(0);
    q.shutdown();
  });

  it.each([
    { name: 'waiting', processing: false },
    { name: 'being processed', processing: true },
  ])('an add now drops a delayed add of the key (key $name), on virtual time', async ({ processing }) => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock });
    if (processing) {
      q.add('a');
      await q.get();
    }
    q.addAfter('a', 1_000);
    q.addAfter('b', 1_000);
    q.add('a');
    if (processing) q.done('a');
    expect(await q.get()).toBe('a');
    q.done('a');
    await clock.advance(1_000);
    // b's delayed add is due; a's was dropped by the add now, so a does not come a second time.
    expect(await q.get()).toBe('b');
    q.done('b');
    await clock.advance(5_000);
    expect(q.length).toBe(0);
    q.shutdown();
  });

  it('retries after the rate-limited delay, on virtual time', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock, rateLimiter: defaultRateLimiter({ baseDelayMs: 100, clock }) });
    const delays = [q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a')];
    expect(delays).toEqual([100, 200, 400]); // each retry asks again; the earliest pending wins
    await clock.advance(99);
    expect(q.length).toBe(0);
    await clock.advance(1);
    expect(q.length).toBe(1);
    q.shutdown();
  });

  it('shutdown releases waiting workers with undefined and drained() waits for in-flight keys', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = await q.get();
    const waiting = q.get();
    q.shutdown();
    expect(await waiting).toBeUndefined();
    let drained = false;
    void q.drained().then(() => (drained = true));
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(false);
    q.done(key!);
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(true);
  });

  it('never hands one key to two concurrent workers', async () => {
    const q = new WorkQueue();
    const holding = new Set<string>();
    let violations = 0;
    let processed = 0;
    const worker = async () => {
      for (;;) {
        const key = await q.get();
        if (key === undefined) return;
        if (holding.has(key)) violations++;
        holding.add(key);
        await new Promise((r) => setTimeout(r, Math.random() * 3));
        holding.delete(key);
        processed++;
        q.done(key);
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    for (let i = 0; i < 400; i++) {
      q.add(`k${i % 5}`);
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    while (q.length > 0 || q.inFlight > 0) await new Promise((r) => setTimeout(r, 5));
    q.shutdown();
    await Promise.all(workers);
    expect(processed).toBeGreaterThan(5);
    expect(violations).toBe(0);
  });
});

describe('rate limiters', () => {
  it('per-key exponential backoff doubles, caps and forgets', () => {
    const rl = new ExponentialRateLimiter(10, 50);
    expect([rl.when('a'), rl.when('a'), rl.when('a'), rl.when('a')]).toEqual([10, 20, 40, 50]);
    expect(rl.when('b')).toBe(10);
    expect(rl.retries('a')).toBe(4);
    rl.forget('a');
    expect(rl.when('a')).toBe(10);
  });

  it('the overall bucket delays once the burst is spent', () => {
    let now = 0;
    const rl = new BucketRateLimiter(10, 2, () => now);
    expect(rl.when()).toBe(0);
    expect(rl.when()).toBe(0);
    expect(rl.when()).toBeCloseTo(100);
    expect(rl.when()).toBeCloseTo(200);
    now = 1_000;
    expect(rl.when()).toBe(0);
  });

  it('the default limiter takes the larger delay', () => {
    const rl = defaultRateLimiter({ baseDelayMs: 1, qps: 1, burst: 1 });
    expect(rl.when('a')).toBe(1);
    expect(rl.when('b')).toBeGreaterThan(900);
  });
});
