// What the two adapter entry points (dedicated and pool) do alike before they start: read the
// environment or exit 1 with one line, and log JSON lines with ISO times and textual levels
// (sink tokens masked).
import { pino, type Logger } from 'pino';
import { REDACTED, TOKEN_LOG_REDACT_PATHS } from '../contract/sink-token.js';
import { ConfigError, type LogLevel } from './env.js';

/** `load()`, or on a {@link ConfigError} one line on stderr and exit 1. */
export function loadOrExit<C>(program: string, load: () => C): C {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // One line on stderr, readable in `kubectl logs` and CrashLoopBackOff descriptions.
    process.stderr.write(`${program}: ${err.message}\n`);
    process.exit(1);
  }
}

/** The process logger; `base` fields stand on every line. */
export function processLogger(level: LogLevel, base: Record<string, string>): Logger {
  return pino({
    level,
    base,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Defence in depth: no code logs a sink token, and a field that would carry one is masked.
    redact: { paths: [...TOKEN_LOG_REDACT_PATHS], censor: REDACTED },
  });
}
