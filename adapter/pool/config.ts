// A pool pod's configuration from its environment. It is the dedicated adapter's minus
// everything about one source (sink, name, interval): those arrive per source over the
// control stream.
import { z } from 'zod';
import { POOL_ENV } from '../../contract/adapter-env.js';
import {
  durationString,
  LOG_LEVELS,
  parseEnv,
  serverEnv,
  serverEnvShape,
  type LogLevel,
  type ServerEnv,
} from '../env.js';

/** Everything a pool pod is told by its environment. */
export interface PoolConfig extends ServerEnv {
  /** Without an operator stream this long, every source stops (the operator moves them after its larger dead-peer bound). Default 3 s. */
  leaseMs: number;
  /** Level of per-source heartbeat logs. Default warn. */
  heartbeatLogLevel: LogLevel;
}

const envSchema = z.object({
  ...serverEnvShape,
  [POOL_ENV.heartbeatLogLevel]: z.enum(LOG_LEVELS).default('warn'),
  [POOL_ENV.lease]: durationString('POOL_LEASE', 500, 600_000).default(3_000),
});

/** Reads and validates a pool pod's environment; throws a ConfigError naming each bad variable. */
export function loadPoolConfig(env: NodeJS.ProcessEnv = process.env): PoolConfig {
  const e = parseEnv(envSchema, env, 'pool adapter');
  return {
    ...serverEnv(e),
    heartbeatLogLevel: e[POOL_ENV.heartbeatLogLevel],
    leaseMs: e[POOL_ENV.lease],
  };
}
