// How the operator configures an adapter pod at start: environment variable names, ports and
// the certificate directory. The operator writes them into the pod template; the adapter reads them.

/** Names of the environment variables the adapter reads (see docs/adapter.md for defaults). */
export const ENV = {
  sink: 'K_SINK',
  /** PEM CA certificates to verify an HTTPS sink with (Knative's name; the resolved sink CACerts). */
  sinkCaCerts: 'K_CA_CERTS',
  /**
   * OIDC audience of the sink (Knative's name): set, the adapter sends nothing until the operator
   * delivered a token for it over the control stream (SetSinkToken), then every request carries it.
   */
  sinkAudience: 'K_AUDIENCE',
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

/** Environment variables only a pool pod reads (besides the shared ones of {@link ENV}). */
export const POOL_ENV = {
  /** Log level of per-source heartbeat lines. Default "warn": 10,000 sources at info would flood the log. */
  heartbeatLogLevel: 'POOL_HEARTBEAT_LOG_LEVEL',
  /** Without any operator stream for this long, the pod stops all its sources. Default "3s"; must stay below the operator's dead-peer bound. */
  lease: 'POOL_LEASE',
} as const;
