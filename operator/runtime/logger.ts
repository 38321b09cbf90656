// The runtime logs through pino; a caller can pass its own logger, otherwise one is made here.
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** A pino logger at `LOG_LEVEL` (default `info`). */
export function defaultLogger(name = 'operator'): Logger {
  return pino({ name, level: process.env.LOG_LEVEL ?? 'info' });
}

/** A logger that drops everything (tests that assert on behaviour, not on logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
