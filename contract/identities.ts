// Identities of the operator-adapter contract: the SAN URIs carried in the control certificates.
// The adapter accepts only the operator's identity; the operator accepts only the identity it
// expects for a pod's source.

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

/** SAN URI of the shared adapter pool's pods (one identity for the whole pool). */
export const POOL_IDENTITY = `${IDENTITY_PREFIX}/pool`;

/** The pool's identity (a function for symmetry with {@link adapterIdentity}). */
export function poolIdentity(): string {
  return POOL_IDENTITY;
}
