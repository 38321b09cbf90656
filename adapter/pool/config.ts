// A pool pod's configuration from its environment. It is the dedicated adapter's minus
// everything about one source (sink, name, interval): those arrive per source over the
// control stream.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import {
  DEFAULT_CONTROL_PORT,
  DEFAULT_HEALTH_PORT,
  DEFAULT_TLS_DIR,
  ENV,
  POOL_ENV,
} from '../../contract/adapter-env.js';
import { OPERATOR_IDENTITY } from '../../contract/identities.js';
import { ConfigError, durationString, port } from '../config.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

/** Everything a pool pod is told by its environment. */
export interface PoolConfig {
  podName: string;
  controlAddress: string;
  controlPort: number;
  healthAddress: string;
  healthPort: number;
  tls: { caFile: string; certFile: string; keyFile: string };
  operatorIdentity: string;
  logLevel: LogLevel;
  /** Level of per-source heartbeat logs. Default warn. */
  heartbeatLogLevel: LogLevel;
  sinkTimeoutMs: number;
  sinkRetries: number;
  shutdownTimeoutMs: number;
}

const envSchema = z.object({
  [ENV.podName]: z.string().min(1).optional(),
  [ENV.controlAddress]: z.string().min(1).default('0.0.0.0'),
  [ENV.controlPort]: port.default(DEFAULT_CONTROL_PORT),
  [ENV.healthAddress]: z.string().min(1).optional(),
  [ENV.healthPort]: port.default(DEFAULT_HEALTH_PORT),
  [ENV.tlsDir]: z.string().min(1).default(DEFAULT_TLS_DIR),
  [ENV.operatorIdentity]: z
    .url({ error: 'must be a URI (a SAN URI such as spiffe://…)' })
    .default(OPERATOR_IDENTITY),
  [ENV.logLevel]: z.enum(LOG_LEVELS).default('info'),
  [POOL_ENV.heartbeatLogLevel]: z.enum(LOG_LEVELS).default('warn'),
  [ENV.sinkTimeout]: durationString('SINK_TIMEOUT', 10, 600_000).default(5_000),
  [ENV.sinkRetries]: z.coerce.number().int().min(0).max(20).default(4),
  [ENV.shutdownTimeout]: durationString('SHUTDOWN_TIMEOUT', 0, 600_000).default(5_000),
});

/** Reads and validates a pool pod's environment; throws {@link ConfigError} naming each bad variable. */
export function loadPoolConfig(env: NodeJS.ProcessEnv = process.env): PoolConfig {
  const known = Object.keys(envSchema.shape);
  const input: Record<string, string> = {};
  for (const key of known) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = envSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '?');
      const shown = input[variable] === undefined ? '' : ` (got ${JSON.stringify(input[variable])})`;
      return `${variable}: ${issue.message}${shown}`;
    });
    throw new ConfigError(`invalid pool adapter configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const tlsDir = e[ENV.tlsDir];
  return {
    podName: e[ENV.podName] ?? hostname(),
    controlAddress: e[ENV.controlAddress],
    controlPort: e[ENV.controlPort],
    healthAddress: e[ENV.healthAddress] ?? e[ENV.controlAddress],
    healthPort: e[ENV.healthPort],
    tls: {
      caFile: join(tlsDir, 'ca.crt'),
      certFile: join(tlsDir, 'tls.crt'),
      keyFile: join(tlsDir, 'tls.key'),
    },
    operatorIdentity: e[ENV.operatorIdentity],
    logLevel: e[ENV.logLevel],
    heartbeatLogLevel: e[POOL_ENV.heartbeatLogLevel],
    sinkTimeoutMs: e[ENV.sinkTimeout],
    sinkRetries: e[ENV.sinkRetries],
    shutdownTimeoutMs: e[ENV.shutdownTimeout],
  };
}
