// One clock for everything that waits: the adapter's ticker, the work queue's delayed adds, the
// rate limiters' buckets and the runtime's retry sleeps take a Clock, so their unit tests run on
// virtual time (a ManualClock advanced by the test) instead of sleeping, as kube-rs tests its
// scheduler on paused time. Production code uses SYSTEM_CLOCK. Injected rather than jest's fake
// timers because those replace every timer in the process, including the ones behind the real
// sockets and servers the same tests use.

/** A cancellable timer handle of a {@link Clock}. */
export interface ClockTimer {
  cancel(): void;
  /** Lets the process exit while this timer is pending (as Node's timer.unref). */
  unref(): ClockTimer;
}

/** Time and timers. */
export interface Clock {
  /** Monotonic milliseconds (for intervals and deadlines; not a wall-clock date). */
  now(): number;
  /** Calls `fn` once, `ms` (at least 0) from now. Keeps the process alive unless unref'd. */
  setTimer(fn: () => void, ms: number): ClockTimer;
}

/** The real clock: performance.now() and setTimeout. */
export const SYSTEM_CLOCK: Clock = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    const timer = setTimeout(fn, Math.max(0, ms));
    const handle: ClockTimer = {
      cancel: () => clearTimeout(timer),
      unref: () => (timer.unref(), handle),
    };
    return handle;
  },
};

/** Resolves after `ms` on `clock`, or early (without throwing) when `signal` aborts. */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      timer.cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimer(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Calls `fn` every `ms` on `clock` until cancelled (a setInterval on any Clock: each run arms the next timer). The
 * handle's unref applies to every later timer too.
 */
export function every(clock: Clock, ms: number, fn: () => void): ClockTimer {
  let current: ClockTimer | null = null;
  let cancelled = false;
  let unref = false;
  const arm = (): void => {
    current = clock.setTimer(() => {
      if (cancelled) return;
      try {
        fn();
      } finally {
        if (!cancelled) arm();
      }
    }, ms);
    if (unref) current.unref();
  };
  const handle: ClockTimer = {
    cancel: () => {
      cancelled = true;
      current?.cancel();
    },
    unref: () => {
      unref = true;
      current?.unref();
      return handle;
    },
  };
  arm();
  return handle;
}

/**
 * Virtual time for tests: `now()` stands still until `advance(ms)` moves it, firing every timer
 * that falls due on the way, in due order (ties in creation order), each at its own due time.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly timers = new Map<number, { due: number; fn: () => void }>();

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): ClockTimer {
    const id = this.seq++;
    this.timers.set(id, { due: this.current + Math.max(0, ms), fn });
    const handle: ClockTimer = { cancel: () => void this.timers.delete(id), unref: () => handle };
    return handle;
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.size;
  }

  /**
   * Moves time forward by `ms`, firing due timers (including ones they set that fall due within
   * the step). Awaits a macrotask turn after each timer, so promise chains they start can run
   * before the next one fires.
   */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      let next: [number, { due: number; fn: () => void }] | undefined;
      for (const entry of this.timers)
        if (entry[1].due <= target && (!next || entry[1].due < next[1].due)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.current = Math.max(this.current, next[1].due);
      next[1].fn();
      await new Promise((r) => setImmediate(r));
    }
    this.current = target;
    await new Promise((r) => setImmediate(r));
  }
}
