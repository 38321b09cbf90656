// The two servers every adapter process (dedicated or pool) runs: the mTLS control server that
// only the operator may dial, and the health/metrics server that turns ready once both listen.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ControlServer } from '../control/index.js';
import { HealthServer } from '../control/health.js';
import type { ServerEnv } from './env.js';

/** The control and health servers of one adapter process. */
export interface Serving {
  server: ControlServer;
  /** Starts both; on failure closes both and `cleanup()` (what the caller opened), then rethrows. */
  start(cleanup?: () => unknown): Promise<{ controlPort: number; healthPort: number }>;
  /** Readiness as /readyz reports it. */
  setReady(ready: boolean): void;
  /** Closes the control streams (at most 1 s or the shutdown timeout) and the health server. */
  close(): Promise<void>;
}

/** Builds (does not start) the servers of an adapter process answering as `identity`. */
export function serving(config: ServerEnv, identity: string, logger: Logger, registry: Registry): Serving {
  const server = new ControlServer({
    address: `${config.controlAddress}:${config.controlPort}`,
    tls: config.tls,
    identity,
    allowedClientIdentities: [config.operatorIdentity],
    logger,
    metrics: registry,
  });
  let ready = false;
  const health = new HealthServer({
    host: config.healthAddress,
    port: config.healthPort,
    ready: () => (ready ? undefined : 'not ready'),
    registry,
  });
  return {
    server,
    async start(cleanup) {
      try {
        const controlPort = await server.start();
        const healthPort = await health.start();
        return { controlPort, healthPort };
      } catch (err) {
        await Promise.allSettled([server.close(0), health.stop(), Promise.resolve().then(cleanup)]);
        throw err;
      }
    },
    setReady(value) {
      ready = value;
    },
    async close() {
      await server.close(Math.min(1_000, config.shutdownTimeoutMs));
      await health.stop();
    },
  };
}
