// The adapter's whole configuration comes from its environment (plus mounted certificates and
// the control stream): validate it once, at start-up, and fail with one message naming the variable.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { CeExtensionsSchema } from '../contract/cloudevents.js';
import { AudienceSchema } from '../contract/knative.js';
import { caCertsProblem } from '../contract/tls.js';
import { DEFAULT_CONTROL_PORT, DEFAULT_HEALTH_PORT, DEFAULT_TLS_DIR, ENV } from '../contract/adapter-env.js';
import { DEFAULT_INTERVAL } from '../contract/commands.js';
import { OPERATOR_IDENTITY } from '../contract/identities.js';
import { parseDuration } from '../contract/duration.js';
import { parseInterval } from '../contract/commands.js';

/** Everything the adapter process is told by its environment. */
export interface AdapterConfig {
  sink: URL;
  /** PEM CAs the HTTPS sink is verified with (K_CA_CERTS); undefined: Node's default roots. */
  sinkCaCerts?: string;
  /** OIDC audience of the sink (K_AUDIENCE): heartbeats wait for a token for it; undefined: none. */
  sinkAudience?: string;
  /** CloudEvent extension attributes from K_CE_OVERRIDES, applied to every event. */
  ceExtensions: Record<string, string>;
  name: string;
  namespace: string;
  podName: string;
  intervalMs: number;
  paused: boolean;
  controlAddress: string;
  controlPort: number;
  healthAddress: string;
  healthPort: number;
  tls: { caFile: string; certFile: string; keyFile: string };
  operatorIdentity: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Per-attempt timeout of a send to the sink. */
  sinkTimeoutMs: number;
  /** Retries after the first attempt of a failed send. */
  sinkRetries: number;
  /** How long SIGTERM waits for an in-flight send before abandoning it. */
  shutdownTimeoutMs: number;
}

/** Start-up configuration error; the message names every offending variable on one line. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

// Kubernetes object names: DNS-1123 labels (namespaces) and subdomains (names).
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
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

const booleanString = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const ceOverridesSchema = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON like {"extensions":{"name":"value"}}' });
      return z.NEVER;
    }
  })
  .pipe(
    z.object({
      extensions: CeExtensionsSchema.default({}),
    }),
  );

// One or more PEM certificates, each one parsed, so that a bad bundle fails at start with its name.
const pemCertificates = z.string().superRefine((text, ctx) => {
  const problem = caCertsProblem(text);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const envSchema = z.object({
  [ENV.sink]: z
    .string({ error: 'is required (the sink URL, set by the operator)' })
    .pipe(z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' })),
  [ENV.sinkCaCerts]: pemCertificates.optional(),
  [ENV.sinkAudience]: AudienceSchema.optional(),
  [ENV.ceOverrides]: ceOverridesSchema.optional(),
  [ENV.name]: z.string({ error: 'is required' }).regex(DNS_SUBDOMAIN, 'must be a Kubernetes object name'),
  [ENV.namespace]: z.string({ error: 'is required' }).regex(DNS_LABEL, 'must be a Kubernetes namespace name'),
  [ENV.podName]: z.string().min(1).optional(),
  [ENV.interval]: z
    .string()
    .default(DEFAULT_INTERVAL)
    .transform((text, ctx) => {
      try {
        return parseInterval(text);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  [ENV.paused]: booleanString.default(false),
  [ENV.controlAddress]: z.string().min(1).default('0.0.0.0'),
  [ENV.controlPort]: port.default(DEFAULT_CONTROL_PORT),
  [ENV.healthAddress]: z.string().min(1).optional(),
  [ENV.healthPort]: port.default(DEFAULT_HEALTH_PORT),
  [ENV.tlsDir]: z.string().min(1).default(DEFAULT_TLS_DIR),
  [ENV.operatorIdentity]: z
    .url({ error: 'must be a URI (a SAN URI such as spiffe://…)' })
    .default(OPERATOR_IDENTITY),
  [ENV.logLevel]: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  [ENV.sinkTimeout]: durationString('SINK_TIMEOUT', 10, 600_000).default(5_000),
  [ENV.sinkRetries]: z.coerce.number().int().min(0).max(20).default(4),
  [ENV.shutdownTimeout]: durationString('SHUTDOWN_TIMEOUT', 0, 600_000).default(5_000),
});

/**
 * Reads and validates the adapter's environment. Empty strings count as unset (Kubernetes
 * renders an empty `value:` that way). Throws {@link ConfigError} naming each bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AdapterConfig {
  const known = Object.values(ENV) as string[];
  const input: Record<string, string> = {};
  for (const key of known) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = envSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '?');
      // A PEM bundle is long and says nothing more: name it, do not print it.
      const shown =
        input[variable] === undefined || variable === ENV.sinkCaCerts
          ? ''
          : ` (got ${JSON.stringify(input[variable])})`;
      const detail = issue.path.length > 1 ? ` at ${issue.path.slice(1).join('.')}` : '';
      return `${variable}${detail}: ${issue.message}${shown}`;
    });
    throw new ConfigError(`invalid adapter configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const tlsDir = e[ENV.tlsDir];
  return {
    sink: new URL(e[ENV.sink]),
    ...(e[ENV.sinkCaCerts] ? { sinkCaCerts: e[ENV.sinkCaCerts] } : {}),
    ...(e[ENV.sinkAudience] ? { sinkAudience: e[ENV.sinkAudience] } : {}),
    ceExtensions: e[ENV.ceOverrides]?.extensions ?? {},
    name: e[ENV.name],
    namespace: e[ENV.namespace],
    podName: e[ENV.podName] ?? hostname(),
    intervalMs: e[ENV.interval],
    paused: e[ENV.paused],
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
