// The adapter's command API: what the operator sends over the control protocol and what the
// adapter reports back. The operator imports this file, so it depends on zod and nothing else.
import { z } from 'zod';
import { DurationSyntaxError, formatDuration, parseDuration } from './duration.js';

export { DurationSyntaxError, formatDuration, parseDuration };

/** Smallest heartbeat interval accepted: 100 ms (fast enough for tests, slow enough to be sane). */
export const MIN_INTERVAL_MS = 100;
/** Largest heartbeat interval accepted: 24 hours. */
export const MAX_INTERVAL_MS = 24 * 3_600_000;
/** Interval used when neither the environment nor a command says otherwise: 10 s. */
export const DEFAULT_INTERVAL = '10s';

/** Opcode: set the heartbeat interval. Payload {@link SetIntervalPayload}. */
export const OP_SET_INTERVAL = 'samplesource.v1.SetInterval';
/** Opcode: stop sending heartbeats. Payload {@link GenerationPayload}. */
export const OP_PAUSE = 'samplesource.v1.Pause';
/** Opcode: start sending again at the current interval. Payload {@link GenerationPayload}. */
export const OP_RESUME = 'samplesource.v1.Resume';
/** Opcode: the full desired state, sent on every (re)connect and spec change. Payload {@link ApplyStatePayload}. */
export const OP_APPLY_STATE = 'samplesource.v1.ApplyState';
/** Notification type carrying {@link AdapterState}: on stream open and on every state change. */
export const NOTIFICATION_ADAPTER_STATE = 'samplesource.v1.AdapterState';
/** Async-result failure reason for a command whose generation is older than the one applied. */
export const REASON_SUPERSEDED = 'Superseded';

/** CloudEvent type of every heartbeat, as upstream sample-source. */
export const HEARTBEAT_EVENT_TYPE = 'dev.knative.sample';

/** SAN URI of the operator, the only client identity an adapter accepts by default. */
export const OPERATOR_IDENTITY = 'spiffe://samplesource.knative.dev/operator';
const IDENTITY_PREFIX = 'spiffe://samplesource.knative.dev';

/** SAN URI of the adapter pods of one SampleSource: `spiffe://samplesource.knative.dev/ns/<ns>/samplesource/<name>`. */
export function adapterIdentity(namespace: string, name: string): string {
  return `${IDENTITY_PREFIX}/ns/${namespace}/samplesource/${name}`;
}

/**
 * DNS name in the adapter server certificate of one SampleSource, besides its SAN URI:
 * `<name>.<ns>.adapter.samplesource.knative.dev`. A client that resolves this name to the pod IPs verifies the
 * server by standard host name checks, without overriding target names; our operator sends it as SNI.
 */
export function adapterServerName(namespace: string, name: string): string {
  return `${name}.${namespace}.adapter.samplesource.knative.dev`;
}

/** The operator's identity (a function for symmetry with {@link adapterIdentity}). */
export function operatorIdentity(): string {
  return OPERATOR_IDENTITY;
}

/**
 * CloudEvent `source` of a SampleSource's heartbeats: the URI reference
 * `/apis/v1/namespaces/<ns>/samplesources/<name>`, naming the object the way ApiServerSource does.
 */
export function heartbeatSource(namespace: string, name: string): string {
  return `/apis/v1/namespaces/${namespace}/samplesources/${name}`;
}

/**
 * Parses an interval and checks its bounds; returns whole milliseconds.
 * Throws an Error whose message says what is wrong ("interval \"50ms\" is below the minimum 100ms").
 */
export function parseInterval(text: string): number {
  const ms = Math.round(parseDuration(text));
  if (ms < MIN_INTERVAL_MS) {
    throw new RangeError(
      `interval ${JSON.stringify(text)} is below the minimum ${formatDuration(MIN_INTERVAL_MS)}`,
    );
  }
  if (ms > MAX_INTERVAL_MS) {
    throw new RangeError(
      `interval ${JSON.stringify(text)} is above the maximum ${formatDuration(MAX_INTERVAL_MS)}`,
    );
  }
  return ms;
}

/** A Go duration string within [MIN_INTERVAL_MS, MAX_INTERVAL_MS]; the error message says why not. */
export const IntervalSchema = z.string().superRefine((text, ctx) => {
  try {
    parseInterval(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

/**
 * A Kubernetes generation: int64 on the wire (an exact JSON integer, control/codec.ts). A safe integer decodes
 * as a number, a larger one as a bigint, so `<` and `===` work across both; anything beyond int64 is refused.
 */
export type Generation = number | bigint;
const INT64_MAX = 2n ** 63n - 1n;
function int64Schema(min: number) {
  return z.union([
    z.number().int().min(min).max(Number.MAX_SAFE_INTEGER),
    z.bigint().min(BigInt(min)).max(INT64_MAX, 'generation is beyond int64'),
  ]);
}

/** The SampleSource's metadata.generation the command was computed from (an int64 ≥ 1). */
export const GenerationSchema = int64Schema(1);

/** Payload of Pause and Resume. */
export const GenerationPayloadSchema = z.object({ generation: GenerationSchema });
export type GenerationPayload = z.infer<typeof GenerationPayloadSchema>;

/** Payload of SetInterval. */
export const SetIntervalPayloadSchema = z.object({ generation: GenerationSchema, interval: IntervalSchema });
export type SetIntervalPayload = z.infer<typeof SetIntervalPayloadSchema>;

/** Payload of ApplyState: the whole desired configuration. */
export const ApplyStatePayloadSchema = z.object({
  generation: GenerationSchema,
  interval: IntervalSchema,
  paused: z.boolean(),
});
export type ApplyStatePayload = z.infer<typeof ApplyStatePayloadSchema>;

/** Data of the AdapterState notification (and the detail of every successful async result). */
export const AdapterStateSchema = z.object({
  podName: z.string(),
  interval: z.string(),
  intervalMs: z.number().int(),
  paused: z.boolean(),
  /** Last generation applied; 0 while only the environment has configured the adapter. */
  generation: int64Schema(0),
  eventsSent: z.number().int().min(0),
  eventsDropped: z.number().int().min(0),
  eventsRetried: z.number().int().min(0),
  lastSendError: z.string().nullable(),
});
export type AdapterState = z.infer<typeof AdapterStateSchema>;

/** Names of the environment variables the adapter reads (see docs/adapter.md for defaults). */
export const ENV = {
  sink: 'K_SINK',
  ceOverrides: 'K_CE_OVERRIDES',
  name: 'SAMPLESOURCE_NAME',
  namespace: 'SAMPLESOURCE_NAMESPACE',
  podName: 'POD_NAME',
  interval: 'SAMPLESOURCE_INTERVAL',
  paused: 'SAMPLESOURCE_PAUSED',
  controlAddress: 'CONTROL_ADDRESS',
  controlPort: 'CONTROL_PORT',
  healthAddress: 'HEALTH_ADDRESS',
  healthPort: 'HEALTH_PORT',
  tlsDir: 'CONTROL_TLS_DIR',
  operatorIdentity: 'OPERATOR_IDENTITY',
  logLevel: 'LOG_LEVEL',
  sinkTimeout: 'SINK_TIMEOUT',
  sinkRetries: 'SINK_RETRIES',
  shutdownTimeout: 'SHUTDOWN_TIMEOUT',
} as const;

/** Default port of the control (gRPC + mTLS) server: 9443. */
export const DEFAULT_CONTROL_PORT = 9443;
/** Default port of /healthz, /readyz and /metrics: 8080. */
export const DEFAULT_HEALTH_PORT = 8080;
/** Default directory of the mounted control certificates (ca.crt, tls.crt, tls.key). */
export const DEFAULT_TLS_DIR = '/etc/samplesource/tls';
