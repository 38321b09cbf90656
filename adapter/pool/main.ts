// Entry point of a shared-pool adapter pod: environment → configuration → running pool;
// SIGTERM/SIGINT stop every source gracefully and exit 0. A bad environment exits 1 with one message.
import { pino } from 'pino';
import { ConfigError } from '../config.js';
import { loadPoolConfig, type PoolConfig } from './config.js';
import { exitOnSignals } from '../shutdown.js';

async function main(): Promise<void> {
  let config: PoolConfig;
  try {
    config = loadPoolConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`samplesource-pool-adapter: ${err.message}\n`);
    process.exit(1);
  }
  const logger = pino({
    level: config.logLevel,
    base: { pod: config.podName },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
  const { startPoolAdapter } = await import('./pool-adapter.js');
  const running = await startPoolAdapter(config, logger).catch((err: Error) => {
    logger.fatal({ err }, `pool adapter failed to start: ${err.message}`);
    process.exit(1);
  });
  exitOnSignals(running, logger, config.shutdownTimeoutMs);
}

await main();
