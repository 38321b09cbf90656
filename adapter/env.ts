// What the dedicated and the pool adapter read from their environment alike: the control and
// health servers, TLS, the operator's identity, logging and sink timeouts; plus the one way both
// turn a zod failure into a start-up error naming each variable. Each binary adds its own fields.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_CONTROL_PORT, DEFAULT_HEALTH_PORT, DEFAULT_TLS_DIR, ENV } from '../contract/adapter-env.js';
import { OPERATOR_IDENTITY } from '../contract/identities.js';
import { parseDuration } from '../contract/duration.js';

/** Start-up configuration error; the message names every offending variable on one line. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A TCP port from the environment (0 picks a free one). */
export const port = z.coerce.number().int().min(0).max(65535);

/** A Go duration from the environment, checked against [minMs, maxMs]; yields milliseconds. */
export function durationString(what: string, minMs: number, maxMs: number) {
  return z.string().transform((text, ctx) => {
    try {
      const ms = Math.round(parseDuration(text));
      if (ms < minMs || ms > maxMs) throw new RangeError(`${what} must be between ${minMs}ms and ${maxMs}ms`);
      return ms;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });
}

/** The fields of {@link ServerEnv}'s schema; spread into each binary's own `z.object`. */
export const serverEnvShape = {
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
  [ENV.sinkTimeout]: durationString('SINK_TIMEOUT', 10, 600_000).default(5_000),
  [ENV.sinkRetries]: z.coerce.number().int().min(0).max(20).default(4),
  [ENV.shutdownTimeout]: durationString('SHUTDOWN_TIMEOUT', 0, 600_000).default(5_000),
};

/** What every adapter process (dedicated or pool) is told by its environment. */
export interface ServerEnv {
  podName: string;
  controlAddress: string;
  controlPort: number;
  healthAddress: string;
  healthPort: number;
  tls: { caFile: string; certFile: string; keyFile: string };
  operatorIdentity: string;
  logLevel: LogLevel;
  /** Per-attempt timeout of a send to the sink. */
  sinkTimeoutMs: number;
  /** Retries after the first attempt of a failed send. */
  sinkRetries: number;
  /** How long SIGTERM waits for in-flight sends before abandoning them. */
  shutdownTimeoutMs: number;
}

/**
 * Validates the variables `schema` knows. Empty strings count as unset (Kubernetes renders an
 * empty `value:` that way). Throws {@link ConfigError} naming each bad variable; the values of
 * `unshown` variables (long PEM bundles) are named, never printed.
 */
export function parseEnv<S extends z.ZodObject>(
  schema: S,
  env: NodeJS.ProcessEnv,
  what: string,
  unshown: readonly string[] = [],
): z.output<S> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const variable = String(issue.path[0] ?? '?');
    const shown =
      input[variable] === undefined || unshown.includes(variable)
        ? ''
        : ` (got ${JSON.stringify(input[variable])})`;
    const detail = issue.path.length > 1 ? ` at ${issue.path.slice(1).join('.')}` : '';
    return `${variable}${detail}: ${issue.message}${shown}`;
  });
  throw new ConfigError(`invalid ${what} configuration: ${problems.join('; ')}`);
}

/** The {@link ServerEnv} part of a parsed environment. */
export function serverEnv(e: z.output<z.ZodObject<typeof serverEnvShape>>): ServerEnv {
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
    sinkTimeoutMs: e[ENV.sinkTimeout],
    sinkRetries: e[ENV.sinkRetries],
    shutdownTimeoutMs: e[ENV.shutdownTimeout],
  };
}
