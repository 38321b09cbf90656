// One timer for all the sources of a pool pod. Every source's ticker and delayed first tick is
// an entry in one binary min-heap (by due time, ties in creation order) behind a single timer of
// the underlying clock, armed for the earliest entry. A Node Timeout costs about 260 B, plus a
// timer list of its own per distinct duration, and a pool's tickers almost all have distinct
// durations (random start phases). An entry here is one small object. Cancelling one removes it
// from the heap at once (O(log n)), so a source paused and resumed many times holds nothing
// extra. Why not a library: docs/decisions/0012-pool-shared-timers.md.
import { SYSTEM_CLOCK, type Clock, type ClockTimer } from '../../control/clock.js';

/** A pending timer of {@link SharedTimers}; it is its own handle. */
class Entry implements ClockTimer {
  /** Position in the heap; -1 once fired or cancelled. */
  index = -1;
  refed = true;

  constructor(
    readonly owner: SharedTimers,
    readonly due: number,
    readonly seq: number,
    public fn: (() => void) | undefined,
  ) {}

  cancel(): void {
    this.owner.remove(this);
  }

  unref(): ClockTimer {
    this.owner.unrefEntry(this);
    return this;
  }
}

/** True when `a` fires before `b`. */
const before = (a: Entry, b: Entry) => a.due < b.due || (a.due === b.due && a.seq < b.seq);

/** A callback's error, by default rethrown on the next tick: uncaught, as a setTimeout's would be. */
const rethrow = (err: unknown) =>
  process.nextTick(() => {
    throw err;
  });

/**
 * A {@link Clock} whose timers share one timer of `base` (default the system clock; tests pass a
 * ManualClock). Callbacks run in due order; one that throws does not keep the others due in the
 * same turn from running, and its error goes to `onError` (default: rethrown, uncaught).
 */
export class SharedTimers implements Clock {
  private readonly heap: Entry[] = [];
  private timer: ClockTimer | undefined;
  private armedFor = Infinity;
  private armedRefed = false;
  private seq = 0;
  /** Pending entries that keep the process alive (not unref'd). */
  private refed = 0;

  constructor(
    private readonly base: Clock = SYSTEM_CLOCK,
    private readonly onError: (err: unknown) => void = rethrow,
  ) {}

  now(): number {
    return this.base.now();
  }

  /** Timers not yet fired nor cancelled. */
  get pending(): number {
    return this.heap.length;
  }

  setTimer(fn: () => void, ms: number): ClockTimer {
    const entry = new Entry(this, this.base.now() + Math.max(0, ms), this.seq++, fn);
    entry.index = this.heap.length;
    this.heap.push(entry);
    this.up(entry.index);
    this.refed++;
    this.arm();
    return entry;
  }

  /** @internal Entry.cancel. */
  remove(entry: Entry): void {
    if (entry.index < 0) return;
    this.removeAt(entry.index);
    entry.fn = undefined;
    if (entry.refed) this.refed--;
    // An underlying timer left armed for an earlier time than needed fires once for nothing and
    // re-arms; only an empty heap cancels it, so that nothing keeps the process alive.
    this.arm();
  }

  /** @internal Entry.unref. */
  unrefEntry(entry: Entry): void {
    if (!entry.refed) return;
    entry.refed = false;
    if (entry.index >= 0) {
      this.refed--;
      this.arm();
    }
  }

  private arm(): void {
    const first = this.heap[0];
    if (!first) {
      this.timer?.cancel();
      this.timer = undefined;
      this.armedFor = Infinity;
      return;
    }
    const refed = this.refed > 0;
    if (this.timer && first.due >= this.armedFor && refed === this.armedRefed) return;
    this.timer?.cancel();
    // Rounded up: the underlying timer never wakes before the entry is due.
    this.timer = this.base.setTimer(() => this.fire(), Math.ceil(first.due - this.base.now()));
    if (!refed) this.timer.unref();
    this.armedFor = first.due;
    this.armedRefed = refed;
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.base.now();
    // Entries set by the callbacks below wait for the next turn, even if already due (as a
    // setTimeout(fn, 0) from a timer callback would): a 0 ms re-arm can never spin this loop.
    const limit = this.seq;
    for (let first = this.heap[0]; first && first.due <= now && first.seq < limit; first = this.heap[0]) {
      this.removeAt(0);
      if (first.refed) this.refed--;
      const fn = first.fn!;
      first.fn = undefined;
      try {
        fn();
      } catch (err) {
        this.onError(err);
      }
    }
    this.arm();
  }

  private removeAt(index: number): void {
    const heap = this.heap;
    const entry = heap[index]!;
    const last = heap.pop()!;
    entry.index = -1;
    if (last === entry) return;
    heap[index] = last;
    last.index = index;
    this.up(index);
    this.down(last.index);
  }

  private up(index: number): void {
    const heap = this.heap;
    const entry = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!before(entry, parent)) break;
      heap[index] = parent;
      parent.index = index;
      index = parentIndex;
    }
    heap[index] = entry;
    entry.index = index;
  }

  private down(index: number): void {
    const heap = this.heap;
    const entry = heap[index]!;
    const size = heap.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= size) break;
      const right = left + 1;
      const child = right < size && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, entry)) break;
      heap[index] = heap[child]!;
      heap[index]!.index = index;
      index = child;
    }
    heap[index] = entry;
    entry.index = index;
  }
}
