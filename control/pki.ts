// Certificate authority helpers: ECDSA P-256 CAs and leaf certificates whose identities live in SANs.
// Used by the control protocol's mutual TLS, by the operator's CA, and by the test control plane.
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs the polyfill, once, before use.
import * as x509 from '@peculiar/x509';
import { webcrypto, randomBytes, X509Certificate as NodeX509Certificate } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const HOUR_MS = 3_600_000;
/** Certificates start this long in the past, so that peers with slightly skewed clocks accept them. */
const BACKDATE_MS = 5 * 60_000;

/** A certificate and its private key, both PEM. */
export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

/** A certificate authority able to issue leaves. */
export interface CertificateAuthority extends KeyPairPem {
  /** Issues a leaf certificate signed by this CA. */
  issue(options: LeafOptions): Promise<KeyPairPem>;
}

/** What a leaf certificate says about its holder. */
export interface LeafOptions {
  /** Subject common name. */
  commonName: string;
  /** Subject organizations (Kubernetes reads these as groups). Default none. */
  organizations?: string[];
  /** SAN URIs, the identities the control protocol authorizes on. Default none. */
  uris?: string[];
  /** SAN DNS names. Default none. */
  dnsNames?: string[];
  /** SAN IP addresses. Default none. */
  ipAddresses?: string[];
  /** Extended key usages. Default both server and client auth. */
  usages?: Array<'server' | 'client'>;
  /** Validity from now. Default 24 hours. */
  validityHours?: number;
  /** Start of validity, for tests of expiry. Default now minus a small backdate. */
  notBefore?: Date;
}

/** Options for a new CA. */
export interface CaOptions {
  commonName: string;
  /** Validity from now. Default one year. */
  validityHours?: number;
}

function subjectName(commonName: string, organizations: string[] = []): x509.JsonName {
  return [{ CN: [commonName] }, ...organizations.map((o) => ({ O: [o] }))];
}

function serialNumber(): string {
  // Positive 127-bit serial: the top bit clear so DER never needs a sign byte.
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

/** PEM text ends with a newline, so that concatenated PEMs (chains, bundles) stay parseable. */
function withNewline(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return withNewline(x509.PemConverter.encode(der, 'PRIVATE KEY'));
}

async function importPrivateKey(keyPem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(keyPem)[0];
  if (!der) throw new Error('no PEM block in private key');
  return await webcrypto.subtle.importKey('pkcs8', der, ECDSA_P256, true, ['sign']);
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return await webcrypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']);
}

/** Creates a self-signed CA. */
export async function createCertificateAuthority(options: CaOptions): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: subjectName(options.commonName),
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + (options.validityHours ?? 24 * 365) * HOUR_MS),
    signingAlgorithm: ECDSA_P256,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return loadCertificateAuthority({
    certPem: cert.toString('pem'),
    keyPem: await privateKeyPem(keys.privateKey),
  });
}

/** Wraps an existing CA key pair (for example one read back from a Secret). */
export async function loadCertificateAuthority(pair: KeyPairPem): Promise<CertificateAuthority> {
  const caCert = new x509.X509Certificate(pair.certPem);
  const caKey = await importPrivateKey(pair.keyPem);
  return {
    ...pair,
    async issue(options: LeafOptions): Promise<KeyPairPem> {
      const keys = await generateKeys();
      const notBefore = options.notBefore ?? new Date(Date.now() - BACKDATE_MS);
      const notAfter = new Date(notBefore.getTime() + BACKDATE_MS + (options.validityHours ?? 24) * HOUR_MS);
      const usages = options.usages ?? ['server', 'client'];
      const sans: x509.JsonGeneralName[] = [
        ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
        ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
        ...(options.uris ?? []).map((value) => ({ type: 'url' as const, value })),
      ];
      const extensions: x509.Extension[] = [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(
          usages.map((u) =>
            u === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
          ),
          false,
        ),
        await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
      ];
      if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serialNumber(),
        subject: subjectName(options.commonName, options.organizations),
        issuer: caCert.subjectName,
        notBefore,
        notAfter,
        signingAlgorithm: ECDSA_P256,
        publicKey: keys.publicKey,
        signingKey: caKey,
        extensions,
      });
      return { certPem: withNewline(cert.toString('pem')), keyPem: await privateKeyPem(keys.privateKey) };
    },
  };
}

/** The SAN URIs of a PEM certificate (Node's parser, so no extra dependency on the hot path). */
export function sanUris(certPem: string | Buffer): string[] {
  const alt = new NodeX509Certificate(certPem).subjectAltName ?? '';
  return parseSubjectAltNameUris(alt);
}

/** Extracts `URI:` entries from Node's `subjectaltname` string ("DNS:a, URI:spiffe://x"). */
export function parseSubjectAltNameUris(subjectAltName: string): string[] {
  return subjectAltName
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice(4));
}

/** The SAN DNS names of a PEM certificate. */
export function sanDnsNames(certPem: string | Buffer): string[] {
  return (new NodeX509Certificate(certPem).subjectAltName ?? '')
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4));
}

/** Expiry of a PEM certificate. */
export function notAfter(certPem: string | Buffer): Date {
  return new Date(new NodeX509Certificate(certPem).validTo);
}
