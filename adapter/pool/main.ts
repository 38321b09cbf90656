// Entry point of a shared-pool adapter pod: environment → configuration → running pool;
// SIGTERM/SIGINT stop every source gracefully and exit 0. A bad environment exits 1 with one message.
import { loadOrExit, processLogger } from '../entry.js';
import { loadPoolConfig } from './config.js';
import { exitOnSignals } from '../shutdown.js';

async function main(): Promise<void> {
  const config = loadOrExit('samplesource-pool-adapter', () => loadPoolConfig(process.env));
  const logger = processLogger(config.logLevel, { pod: config.podName });
  const { startPoolAdapter } = await import('./pool-adapter.js');
  const running = await startPoolAdapter(config, logger).catch((err: Error) => {
    logger.fatal({ err }, `pool adapter failed to start: ${err.message}`);
    process.exit(1);
  });
  exitOnSignals(running, logger, config.shutdownTimeoutMs);
}

await main();
