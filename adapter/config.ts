// The adapter's whole configuration comes from its environment (plus mounted certificates and
// the control stream): validate it once, at start-up, and fail with one message naming the variable.
import { z } from 'zod';
import { CeExtensionsSchema } from '../contract/cloudevents.js';
import { AudienceSchema } from '../contract/knative.js';
import { caCertsProblem } from '../contract/tls.js';
import { ENV } from '../contract/adapter-env.js';
import { DEFAULT_INTERVAL } from '../contract/commands.js';
import { parseInterval } from '../contract/commands.js';
import { parseEnv, serverEnv, serverEnvShape, type ServerEnv } from './env.js';

export { ConfigError, durationString, port } from './env.js';

/** Everything the adapter process is told by its environment. */
export interface AdapterConfig extends ServerEnv {
  sink: URL;
  /** PEM CAs the HTTPS sink is verified with (K_CA_CERTS); undefined: Node's default roots. */
  sinkCaCerts?: string;
  /** OIDC audience of the sink (K_AUDIENCE): heartbeats wait for a token for it; undefined: none. */
  sinkAudience?: string;
  /** CloudEvent extension attributes from K_CE_OVERRIDES, applied to every event. */
  ceExtensions: Record<string, string>;
  name: string;
  namespace: string;
  intervalMs: number;
  paused: boolean;
}

// Kubernetes object names: DNS-1123 labels (namespaces) and subdomains (names).
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

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
  ...serverEnvShape,
});

/**
 * Reads and validates the adapter's environment. Empty strings count as unset (Kubernetes
 * renders an empty `value:` that way). Throws {@link ConfigError} naming each bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AdapterConfig {
  // A PEM bundle is long and says nothing more: name it, do not print it.
  const e = parseEnv(envSchema, env, 'adapter', [ENV.sinkCaCerts]);
  return {
    ...serverEnv(e),
    sink: new URL(e[ENV.sink]),
    ...(e[ENV.sinkCaCerts] ? { sinkCaCerts: e[ENV.sinkCaCerts] } : {}),
    ...(e[ENV.sinkAudience] ? { sinkAudience: e[ENV.sinkAudience] } : {}),
    ceExtensions: e[ENV.ceOverrides]?.extensions ?? {},
    name: e[ENV.name],
    namespace: e[ENV.namespace],
    intervalMs: e[ENV.interval],
    paused: e[ENV.paused],
  };
}
