// Operator configuration from the environment, validated at start-up: a bad value stops the
// process with one line naming the variable, instead of a crash later.
import { z } from 'zod';
import { hostname } from 'node:os';
import { DEFAULT_SOURCE_MODE, SOURCE_MODES } from '../contract/samplesource.js';

const bool = z.enum(['true', 'false']).transform((v) => v === 'true');
const port = z.coerce.number().int().min(1).max(65_535);
const positiveMs = z.coerce.number().int().positive();

const EnvSchema = z.object({
  /** Namespace the operator runs in (its CA Secret and Lease live here); Knative's name for it. */
  SYSTEM_NAMESPACE: z.string().min(1).default('samplesource-system'),
  /** Image of the receive adapter. */
  ADAPTER_IMAGE: z.string().min(1),
  ADAPTER_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
  /** Port the adapters' control servers listen on. */
  ADAPTER_CONTROL_PORT: port.default(9443),
  /** Port of the adapters' /healthz and /readyz. */
  ADAPTER_HEALTH_PORT: port.default(8080),
  /** Probe and metrics server of the operator. */
  HEALTH_PORT: port.default(8080),
  /** Address of the probe server; the pod IP in a pod (so many replicas can share a test host). */
  HEALTH_ADDRESS: z.string().default('0.0.0.0'),
  LEADER_ELECT: bool.default(true),
  LEADER_ELECTION_LEASE: z.string().min(1).default('samplesource-operator'),
  LEASE_DURATION_MS: positiveMs.default(15_000),
  RENEW_DEADLINE_MS: positiveMs.default(10_000),
  RETRY_PERIOD_MS: positiveMs.default(2_000),
  /** This replica's identity in the Lease. */
  POD_NAME: z.string().min(1).default(hostname()),
  WORKERS: z.coerce.number().int().min(1).max(64).default(4),
  CA_SECRET_NAME: z.string().min(1).default('samplesource-ca'),
  CLUSTER_DOMAIN: z.string().min(1).default('cluster.local'),
  GRACEFUL_SHUTDOWN_MS: positiveMs.default(20_000),
  /** Mode of a SampleSource whose spec.mode is unset (a CRD default cannot be operator-wide). */
  DEFAULT_SOURCE_MODE: z.enum(SOURCE_MODES).default(DEFAULT_SOURCE_MODE),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
  /** Label selector of the shared pool's pods, in SYSTEM_NAMESPACE (config/510-pool.yaml). */
  POOL_SELECTOR: z.string().min(1).default('app.kubernetes.io/name=samplesource-pool'),
  /** Port of the pool pods' control servers. */
  POOL_CONTROL_PORT: port.default(9443),
  /** Secret in SYSTEM_NAMESPACE the operator issues the pool certificate into. */
  POOL_SECRET_NAME: z.string().min(1).default('samplesource-pool-tls'),
  /** How long a lost pool pod's sources wait before starting elsewhere; above the pool's POOL_LEASE plus keepalive detection. */
  POOL_DEAD_PEER_BOUND_MS: positiveMs.default(8_000),
});

/** Validated operator configuration. */
export type OperatorConfig = z.infer<typeof EnvSchema>;

/** Parses the environment; throws one Error naming every bad variable. */
export function loadOperatorConfig(env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const parsed = EnvSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  throw new Error(`invalid operator configuration: ${problems}`);
}
