// Entry point of the receive adapter process: environment → configuration → running adapter;
// SIGTERM/SIGINT stop it gracefully and exit 0. A bad environment exits 1 with one message.
import { pino } from 'pino';
import { ConfigError, loadConfig, type AdapterConfig } from './config.js';
import { exitOnSignals } from './shutdown.js';
import { REDACTED, TOKEN_LOG_REDACT_PATHS } from '../contract/sink-token.js';

async function main(): Promise<void> {
  let config: AdapterConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // One line on stderr, readable in `kubectl logs` and CrashLoopBackOff descriptions.
    process.stderr.write(`samplesource-adapter: ${err.message}\n`);
    process.exit(1);
  }
  const logger = pino({
    level: config.logLevel,
    // `samplesource` and `pod` on every line, so `stern` output of many sources stays readable.
    base: { samplesource: `${config.namespace}/${config.name}`, pod: config.podName },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Defence in depth: no code logs a sink token, and a field that would carry one is masked.
    redact: { paths: [...TOKEN_LOG_REDACT_PATHS], censor: REDACTED },
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
