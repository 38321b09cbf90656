// Deterministic names for the children of a SampleSource, the way Knative's kmeta.ChildName
// builds them: stable across reconciles (so a lost create is never duplicated), unique per
// parent (the uid is part of it) and never longer than a DNS-1123 label.
import { createHash } from 'node:crypto';

/** Longest name a child may have: 63, the DNS-1123 label limit (pod host names derive from it). */
export const MAX_NAME_LENGTH = 63;
const MD5_HEX_LENGTH = 32;
const HEAD = MAX_NAME_LENGTH - MD5_HEX_LENGTH;

function md5Hex(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

// Truncation may leave a '-' or '.' at the end, which names may not end with.
function trimToValidEnd(name: string): string {
  return name.replace(/[^a-z0-9]+$/i, '');
}

/**
 * `parent + suffix` when that fits in 63 characters; otherwise a truncated parent plus an MD5
 * of the input, so that distinct long parents still give distinct names (kmeta.ChildName).
 */
export function childName(parent: string, suffix: string): string {
  if (parent.length + suffix.length <= MAX_NAME_LENGTH) return trimToValidEnd(parent + suffix);
  if (HEAD - suffix.length <= 0) {
    // The suffix leaves no room for parent and hash: hash both and keep what fits.
    const head = parent.slice(0, HEAD);
    let name = head + md5Hex(parent + suffix);
    const room = MAX_NAME_LENGTH - name.length;
    if (room > 0) name += suffix.slice(0, room);
    return trimToValidEnd(name);
  }
  return trimToValidEnd(parent.slice(0, HEAD - suffix.length) + md5Hex(parent) + suffix);
}

/** Name of the adapter Deployment of a source: childName(`samplesource-<name>-`, uid), as upstream sample-source. */
export function adapterDeploymentName(source: { metadata: { name: string; uid: string } }): string {
  return childName(`samplesource-${source.metadata.name}-`, source.metadata.uid);
}

/** Name of the Secret holding the adapter's control-protocol certificate: childName(`samplesource-<name>-tls-`, uid). */
export function certSecretName(source: { metadata: { name: string; uid: string } }): string {
  return childName(`samplesource-${source.metadata.name}-tls-`, source.metadata.uid);
}

/**
 * Name of the ServiceAccount whose tokens the adapters present to an OIDC sink:
 * childName(`samplesource-<name>-oidc-`, uid). Its own account, never spec.serviceAccountName,
 * so a token for the sink grants nothing the source's pods were given.
 */
export function sinkServiceAccountName(source: { metadata: { name: string; uid: string } }): string {
  return childName(`samplesource-${source.metadata.name}-oidc-`, source.metadata.uid);
}
