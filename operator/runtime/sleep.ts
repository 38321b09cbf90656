// Interruptible waits for the runtime's retry loops (informer reconnects, leader election).
import { SYSTEM_CLOCK, sleepOn } from '../../control/clock.js';

/** Resolves after `ms` on the system clock, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return sleepOn(SYSTEM_CLOCK, ms, signal);
}
