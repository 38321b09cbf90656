// The Secret carrying an adapter's control-protocol certificate, mounted at CONTROL_TLS_DIR in
// every adapter pod, and the decision whether it must be (re)issued. Issuing is not pure
// (fresh keys), so the caller does it with control/pki.ts when this says so.
import { X509Certificate } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { adapterIdentity, adapterServerName } from '../../contract/identities.js';
import { sanDnsNames, sanUris } from '../../control/pki.js';
import { controllerReference } from '../runtime/owner.js';
import type { SampleSource } from '../../contract/samplesource.js';
import { certSecretName } from './names.js';
import { ADAPTER_APP_LABEL, SOURCE_NAME_LABEL, SOURCE_UID_LABEL } from './resources.js';

/** Key of the CA bundle the adapter trusts the operator by. */
export const CA_KEY = 'ca.crt';
/** Key of the adapter's certificate (kubernetes.io/tls). */
export const CERT_KEY = 'tls.crt';
/** Key of the adapter's private key (kubernetes.io/tls). */
export const KEY_KEY = 'tls.key';
/** Annotation recording the SAN URI the certificate was issued for. */
export const IDENTITY_ANNOTATION = 'samples.knative.dev/identity';
/** Renew a certificate this long before it expires unless told otherwise: 8 hours (a third of the 24 h default validity). */
export const DEFAULT_RENEW_BEFORE_MS = 8 * 3_600_000;

/** PEMs for the Secret. `caPem` may hold several CAs during a CA rotation. */
export interface CertBundle {
  caPem: string;
  certPem: string;
  keyPem: string;
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** The certificate Secret of a source, controlled by it (so it goes when the source goes). */
export function buildCertSecret(source: SampleSource, bundle: CertBundle): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: {
      name: certSecretName(source),
      namespace: source.metadata.namespace,
      labels: {
        [ADAPTER_APP_LABEL]: 'samplesource-adapter',
        'app.kubernetes.io/component': 'adapter-certificate',
        'app.kubernetes.io/managed-by': 'samplesource-operator',
        [SOURCE_NAME_LABEL]: source.metadata.name,
        [SOURCE_UID_LABEL]: source.metadata.uid,
      },
      annotations: {
        [IDENTITY_ANNOTATION]: adapterIdentity(source.metadata.namespace, source.metadata.name),
      },
      ownerReferences: [
        controllerReference({ apiVersion: source.apiVersion, kind: source.kind, metadata: source.metadata }),
      ],
    },
    data: { [CA_KEY]: b64(bundle.caPem), [CERT_KEY]: b64(bundle.certPem), [KEY_KEY]: b64(bundle.keyPem) },
  };
}

/** Why a certificate Secret must be issued again, or that it is fine. */
export type CertSecretVerdict =
  | { action: 'keep' }
  | {
      action: 'issue';
      reason: 'Missing' | 'Unreadable' | 'WrongIdentity' | 'Expiring' | 'CaChanged' | 'NotIssuedByCa';
    }
  /** The Secret exists but another object controls it: never overwrite it. */
  | { action: 'conflict'; message: string };

/** What the Secret is checked against. */
export interface CertExpectations {
  /** The operator's current CA bundle (what ca.crt must contain). */
  caPem: string;
  /** Now, for expiry. */
  now: Date;
  /** Default {@link DEFAULT_RENEW_BEFORE_MS}. */
  renewBeforeMs?: number;
}

function decode(secret: V1Secret, key: string): string | undefined {
  const value = secret.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/** What checkCertSecret reads from a certificate: parsed once per certificate, not once per reconcile. */
interface CertFacts {
  certPem: string;
  validToMs: number;
  uris: string[];
  dnsNames: string[];
  /** Whether each CA bundle checked so far issued it (a signature check costs as much as the parse). */
  issuedBy: Map<string, boolean>;
}

/** Parsed certificates by their base64 text (the Secret's tls.crt), oldest first; bounded below. */
const factsCache = new Map<string, CertFacts | 'unreadable'>();
/** Enough for every source of a large cluster; past it the oldest entries go (and are parsed again). */
const FACTS_CACHE_SIZE = 4_096;

/**
 * The parsed facts of a certificate in base64 PEM (as a Secret holds it). Every reconcile checks its
 * source's certificate, and parsing and verifying it cost about a millisecond of CPU each time; a
 * certificate's text never changes its meaning, so it is parsed once.
 */
function certFacts(certB64: string): CertFacts | 'unreadable' {
  const known = factsCache.get(certB64);
  if (known !== undefined) return known;
  let facts: CertFacts | 'unreadable';
  try {
    const certPem = Buffer.from(certB64, 'base64').toString('utf8');
    const cert = new X509Certificate(certPem);
    facts = {
      certPem,
      validToMs: new Date(cert.validTo).getTime(),
      uris: sanUris(certPem),
      dnsNames: sanDnsNames(certPem),
      issuedBy: new Map(),
    };
  } catch {
    facts = 'unreadable';
  }
  if (factsCache.size >= FACTS_CACHE_SIZE) factsCache.delete(factsCache.keys().next().value!);
  factsCache.set(certB64, facts);
  return facts;
}

function issuedByBundle(facts: CertFacts, caPem: string): boolean {
  let issued = facts.issuedBy.get(caPem);
  if (issued === undefined) {
    // Parsed again here rather than kept: a CA bundle is new only once per source (or rotation).
    const cert = new X509Certificate(facts.certPem);
    issued = splitPems(caPem).some((pem) => {
      try {
        const caCert = new X509Certificate(pem);
        return cert.checkIssued(caCert) && cert.verify(caCert.publicKey);
      } catch {
        return false;
      }
    });
    // A CA rotation brings a new bundle; the old answers are not needed then.
    if (facts.issuedBy.size >= 4) facts.issuedBy.clear();
    facts.issuedBy.set(caPem, issued);
  }
  return issued;
}

/** When the certificate in a source's Secret expires; undefined when it has none or it is unreadable. */
export function certSecretNotAfter(secret: V1Secret): Date | undefined {
  const b64 = secret.data?.[CERT_KEY];
  const facts = b64 === undefined ? 'unreadable' : certFacts(b64);
  return facts === 'unreadable' ? undefined : new Date(facts.validToMs);
}

/**
 * Decides whether `secret` still serves `source`: present, controlled by it, readable, issued by
 * the current CA for the source's identity, and not within `renewBeforeMs` of expiry.
 */
export function checkCertSecret(
  source: SampleSource,
  secret: V1Secret | undefined,
  expect: CertExpectations,
): CertSecretVerdict {
  if (!secret) return { action: 'issue', reason: 'Missing' };
  const controller = secret.metadata?.ownerReferences?.find((r) => r.controller);
  if (controller?.uid !== source.metadata.uid) {
    return {
      action: 'conflict',
      message: `Secret ${secret.metadata?.name} exists and is not controlled by this SampleSource`,
    };
  }
  const ca = decode(secret, CA_KEY);
  const certB64 = secret.data?.[CERT_KEY];
  if (!ca || !certB64 || !decode(secret, CERT_KEY) || !decode(secret, KEY_KEY))
    return { action: 'issue', reason: 'Unreadable' };
  if (ca.trim() !== expect.caPem.trim()) return { action: 'issue', reason: 'CaChanged' };
  const facts = certFacts(certB64);
  if (facts === 'unreadable') return { action: 'issue', reason: 'Unreadable' };
  // Both names must be there: certificates issued before the DNS SAN existed are issued again.
  if (
    !facts.uris.includes(adapterIdentity(source.metadata.namespace, source.metadata.name)) ||
    !facts.dnsNames.includes(adapterServerName(source.metadata.namespace, source.metadata.name))
  ) {
    return { action: 'issue', reason: 'WrongIdentity' };
  }
  if (!issuedByBundle(facts, expect.caPem)) return { action: 'issue', reason: 'NotIssuedByCa' };
  const renewBefore = expect.renewBeforeMs ?? DEFAULT_RENEW_BEFORE_MS;
  if (facts.validToMs - expect.now.getTime() <= renewBefore) return { action: 'issue', reason: 'Expiring' };
  return { action: 'keep' };
}

function splitPems(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
