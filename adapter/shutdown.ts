// How an adapter process (dedicated or pool) ends: on SIGTERM or SIGINT it closes once, and exits
// 0 when closed, 1 when closing failed or outlasted its deadline.
import type { Logger } from 'pino';

/** Closes `running` on SIGTERM/SIGINT; exits at the latest `shutdownTimeoutMs` + 5 s after the signal. */
export function exitOnSignals(
  running: { close(): Promise<void> },
  logger: Logger,
  shutdownTimeoutMs: number,
): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${signal} received: stopping`);
    // Whatever hangs, the process must be gone before the kubelet's SIGKILL.
    setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, shutdownTimeoutMs + 5_000).unref();
    running.close().then(
      () => process.exit(0),
      (err: Error) => {
        logger.error({ err }, `shutdown failed: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
