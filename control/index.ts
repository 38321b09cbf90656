// Public API of the control protocol library (see control/API.md). Knows nothing of Kubernetes.
export { ControlServer } from './server.js';
export type {
  ControlServerOptions,
  SessionInfo,
  CommandContext,
  AsyncCommandContext,
  CommandHandler,
  AsyncCommandHandler,
} from './server.js';
export { ControlClient, newCommandId } from './client.js';
export type { ControlClientOptions, ClientState, SendAndWaitOptions, Ack } from './client.js';
export type { CommandResult, Notification } from './codec.js';
export { parseJsonExact, stringifyJsonExact, INT64_MAX, INT64_MIN } from './codec.js';
export { Refusal, refusals } from './refusals.js';
export { DEFAULT_LIMITS } from './limits.js';
export { NotificationStore } from './notification-store.js';
export type { CommandStatus, NotificationStoreOptions, ResultLike } from './notification-store.js';
export type { AsyncResultNotifier, AsyncOutcome } from './async-command.js';
export type { SessionStats } from './session.js';
export type { Limits } from './limits.js';
export type { BackoffOptions } from './backoff.js';
export { backoffDelay } from './backoff.js';
export type { KeepaliveOptions } from './keepalive.js';
export type { TlsFiles, TlsPems, TlsSource } from './tls.js';
export {
  ControlError,
  CommandRejectedError,
  TimeoutError,
  AbortError,
  OutboxFullError,
  MessageTooLargeError,
  ProtocolMismatchError,
  ClosedError,
} from './errors.js';
export { PROTOCOL_VERSION, CAPABILITIES } from './wire.js';
export {
  createCertificateAuthority,
  loadCertificateAuthority,
  sanUris,
  sanDnsNames,
  parseSubjectAltNameUris,
  notAfter,
} from './pki.js';
export type { CertificateAuthority, KeyPairPem, LeafOptions, CaOptions } from './pki.js';
