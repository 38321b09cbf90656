// Entry point of the receive adapter process: environment → configuration → running adapter;
// SIGTERM/SIGINT stop it gracefully and exit 0. A bad environment exits 1 with one message.
import { loadConfig } from './config.js';
import { loadOrExit, processLogger } from './entry.js';
import { exitOnSignals } from './shutdown.js';

async function main(): Promise<void> {
  const config = loadOrExit('samplesource-adapter', () => loadConfig(process.env));
  // `samplesource` and `pod` on every line, so `stern` output of many sources stays readable.
  const logger = processLogger(config.logLevel, {
    samplesource: `${config.namespace}/${config.name}`,
    pod: config.podName,
  });
  // Loaded only once the environment is valid, so a bad one fails fast without loading gRPC.
  const { startAdapter } = await import('./adapter.js');
  const adapter = await startAdapter(config, logger).catch((err: Error) => {
    logger.fatal({ err }, `adapter failed to start: ${err.message}`);
    process.exit(1);
  });

  exitOnSignals(adapter, logger, config.shutdownTimeoutMs);
}

await main();
