// A drift-free ticker: tick n fires at anchor + n·interval on the monotonic clock, so the
// cadence does not slide with send time or timer lateness. Changing the interval or resuming
// re-anchors at max(now, last tick + interval): the new cadence starts from the next tick and
// never produces two ticks closer together than an interval (no burst, no catch-up).

import { SYSTEM_CLOCK, type Clock, type ClockTimer } from '../control/clock.js';

/** Fires `onTick(scheduledAt)` every `intervalMs` while running. */
export class Ticker {
  private timer: ClockTimer | undefined;
  private running = false;
  private anchor = 0;
  private count = 0;
  private lastTick: number | undefined;

  constructor(
    private intervalMs: number,
    private readonly onTick: (scheduledAt: number) => void,
    /** Time and timers; virtual in tests. Default the system clock. */
    private readonly clock: Clock = SYSTEM_CLOCK,
  ) {}

  /** The interval in force. */
  get interval(): number {
    return this.intervalMs;
  }

  /** True between start() and stop(). */
  get isRunning(): boolean {
    return this.running;
  }

  /** Starts ticking: at once the first time, else one interval after the last tick (or now if that has passed). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.reanchor();
  }

  /** Stops ticking; start() resumes without a burst. */
  stop(): void {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Changes the interval from the next tick on. */
  setInterval(ms: number): void {
    if (ms === this.intervalMs) return;
    this.intervalMs = ms;
    if (this.running) {
      this.timer?.cancel();
      this.reanchor();
    }
  }

  private reanchor(): void {
    const now = this.clock.now();
    this.anchor = this.lastTick === undefined ? now : Math.max(now, this.lastTick + this.intervalMs);
    this.count = 0;
    this.arm();
  }

  private arm(): void {
    const due = this.anchor + this.count * this.intervalMs;
    this.timer = this.clock.setTimer(() => this.fire(), Math.max(0, due - this.clock.now()));
  }

  private fire(): void {
    this.timer = undefined;
    if (!this.running) return;
    const now = this.clock.now();
    let due = this.anchor + this.count * this.intervalMs;
    if (due - now >= 1) {
      // Timers may wake a hair early against this clock: wait out the rest.
      this.arm();
      return;
    }
    if (now - due >= this.intervalMs) {
      // The event loop was blocked past whole ticks: skip them rather than fire a burst.
      this.count = Math.floor((now - this.anchor) / this.intervalMs);
      due = this.anchor + this.count * this.intervalMs;
    }
    this.lastTick = due;
    this.count++;
    this.arm();
    this.onTick(due);
  }
}
