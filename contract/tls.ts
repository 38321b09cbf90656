// Sink CA certificates (Knative's Destination.CACerts and Addressable status.address.CACerts):
// one rule for what a usable bundle is, applied by the operator (spec and Addressable) and the
// adapter (K_CA_CERTS) alike, so a bundle the adapter would refuse ends as a False condition.
import { X509Certificate } from 'node:crypto';

/** Longest CA bundle accepted: 64 KiB, as the CRD allows for spec.sink.CACerts. */
export const MAX_CA_CERTS_LENGTH = 65_536;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Why a PEM CA bundle is unusable (too long, no certificate, or one that does not parse), or undefined when usable. */
export function caCertsProblem(pem: string): string | undefined {
  // The same bound for an Addressable's status.address.CACerts, which no schema limits.
  if (pem.length > MAX_CA_CERTS_LENGTH) return `must be at most ${MAX_CA_CERTS_LENGTH} characters`;
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return 'must hold PEM certificates';
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (err) {
      return `certificate ${i + 1} is not valid: ${(err as Error).message}`;
    }
  }
  return undefined;
}
