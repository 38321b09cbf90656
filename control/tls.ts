// Mutual TLS for the control protocol: certificate sources (files, PEMs, a function), server
// credentials that pick up new certificates for new connections without dropping live streams,
// client credentials that check the server's SAN URI, and clear log lines for every refusal.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { TLSSocket, PeerCertificate } from 'node:tls';
import type { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { errorMessage } from './errors.js';
import { notAfter, parseSubjectAltNameUris, sanUris } from './pki.js';

/** PEM files on disk (a mounted Secret); reloaded when they change. */
export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** In-memory PEMs. `caPem` may list several CAs (a trust bundle during a CA rollover). */
export interface TlsPems {
  caPem: string | string[];
  certPem: string;
  keyPem: string;
}

/** Where certificates come from. A function is asked again for every new connection. */
export type TlsSource = TlsFiles | TlsPems | (() => TlsPems);

/** Resolved certificate material, PEM text. */
export interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

/** Reads the current material from a source (synchronously: files are small and this runs per connection). */
export function readTls(source: TlsSource): TlsMaterial {
  const pems = typeof source === 'function' ? source() : source;
  if ('caFile' in pems) {
    return {
      ca: readFileSync(pems.caFile, 'utf8'),
      cert: readFileSync(pems.certFile, 'utf8'),
      key: readFileSync(pems.keyFile, 'utf8'),
    };
  }
  return {
    ca: Array.isArray(pems.caPem) ? pems.caPem.join('\n') : pems.caPem,
    cert: pems.certPem,
    key: pems.keyPem,
  };
}

/** Throws unless the material forms a usable TLS context (key matches certificate, PEMs parse). */
export function checkTls(m: TlsMaterial): void {
  createSecureContext({ ca: m.ca, cert: m.cert, key: m.key });
}

/** Loggable facts about a certificate; never the key. */
export function describeCert(certPem: string): { identities: string[]; notAfter: string } {
  try {
    return { identities: sanUris(certPem), notAfter: notAfter(certPem).toISOString() };
  } catch {
    return { identities: [], notAfter: 'unparseable' };
  }
}

/**
 * Server credentials requiring a client certificate from the trusted CA(s). `refresh()` re-reads the source and, when
 * it changed and is valid, hands new certificates to grpc-js, which applies them to new connections only.
 */
export class ReloadableServerCredentials extends grpc.ServerCredentials {
  private current!: TlsMaterial;
  private source!: TlsSource;
  private logger!: Logger;

  constructor(source: TlsSource, logger: Logger) {
    const initial = readTls(source);
    checkTls(initial);
    // Node would drop an unverified client silently; we verify in hookServerTls to log why, and calls from an
    // unverified socket carry no identity, so they are refused again at the call (defence in depth).
    super(
      { requestCert: true, rejectUnauthorized: false },
      { ca: initial.ca, cert: initial.cert, key: initial.key },
    );
    this.current = initial;
    this.source = source;
    this.logger = logger;
  }

  /** Current certificate (PEM). */
  get certPem(): string {
    return this.current.cert;
  }

  /** Re-reads the source; true when new certificates were installed. A broken or half-written source keeps the old ones. */
  refresh(): boolean {
    let next: TlsMaterial;
    try {
      next = readTls(this.source);
      if (next.ca === this.current.ca && next.cert === this.current.cert && next.key === this.current.key)
        return false;
      checkTls(next);
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'TLS reload failed; keeping the previous certificate');
      return false;
    }
    this.current = next;
    this.updateSecureContextOptions({ ca: next.ca, cert: next.cert, key: next.key });
    this.logger.info(
      { cert: describeCert(next.cert) },
      'TLS certificates reloaded; new connections use them',
    );
    return true;
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return this === other;
  }
}

/**
 * Wires TLS events of a bound grpc-js server: a log line for every refused handshake (plaintext, no certificate,
 * unknown CA, expired) and a certificate refresh before each new connection. Uses grpc-js internals (its
 * `http2Servers` map, 1.14.x) because grpc-js exposes neither event; without them only the poll reload works.
 */
export function hookServerTls(
  server: grpc.Server,
  creds: ReloadableServerCredentials,
  logger: Logger,
  onRefused: (reason: string) => void,
): boolean {
  const servers = (server as unknown as { http2Servers?: Map<EventEmitter, unknown> }).http2Servers;
  if (!(servers instanceof Map)) return false;
  for (const http2Server of servers.keys()) {
    http2Server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      const reason = tlsRefusalReason(err);
      onRefused(reason);
      logger.warn(
        { remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, reason, detail: err.message },
        `refused TLS connection: ${reason}`,
      );
    });
    http2Server.prependListener('secureConnection', (socket: TLSSocket) => {
      if (socket.authorized) return;
      const err = Object.assign(new Error(String(socket.authorizationError ?? 'unverified')), {
        code: String(socket.authorizationError ?? ''),
      });
      // Node reports a missing certificate as an issuer error; tell the two apart for the log.
      const presented = Boolean((socket.getPeerCertificate() as { raw?: Buffer }).raw);
      const reason = presented ? tlsRefusalReason(err) : 'client presented no certificate';
      onRefused(reason);
      logger.warn(
        { remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, reason, detail: err.message },
        `refused TLS connection: ${reason}`,
      );
      socket.destroy();
    });
    // Runs before the TLS server wraps the socket, so this very connection already gets fresh certificates.
    http2Server.prependListener('connection', () => creds.refresh());
  }
  return true;
}

/** Maps an OpenSSL/Node handshake error to a short human reason. */
export function tlsRefusalReason(err: Error & { code?: string }): string {
  const text = `${err.code ?? ''} ${err.message}`;
  if (/CERT_HAS_EXPIRED|certificate has expired|certificate expired/i.test(text))
    return 'client certificate expired';
  if (/PEER_DID_NOT_RETURN|peer did not return a certificate|CERTIFICATE_REQUIRED/i.test(text)) {
    return 'client presented no certificate';
  }
  if (
    /wrong version number|http request|unknown protocol|packet length too long|ECONNRESET.*before/i.test(text)
  ) {
    return 'not a TLS client (plaintext?)';
  }
  if (
    /unable to get local issuer|unknown ca|self.signed|certificate signature failure|unable to verify|UNABLE_TO/i.test(
      text,
    )
  ) {
    return 'client certificate not issued by a trusted CA';
  }
  return `TLS handshake failed (${err.message})`;
}

/** SAN URIs of the authenticated peer of a server call; empty without a verified certificate. */
export function callerIdentities(call: {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate };
}): string[] {
  const cert = call.getAuthContext().sslPeerCertificate;
  return cert ? parseSubjectAltNameUris(cert.subjectaltname ?? '') : [];
}

/** Text of the error a client raises for a server certificate without the expected SAN URI (found in call errors). */
export const IDENTITY_MISMATCH = 'server identity mismatch';

/** Client credentials from current material; the server must be CA-signed and carry `expectedServerIdentity` as a SAN URI. */
export function clientCredentials(m: TlsMaterial, expectedServerIdentity: string): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(Buffer.from(m.ca), Buffer.from(m.key), Buffer.from(m.cert), {
    checkServerIdentity: (_host, cert) => {
      const found = parseSubjectAltNameUris(cert.subjectaltname ?? '');
      if (found.includes(expectedServerIdentity)) return undefined;
      return new Error(
        `${IDENTITY_MISMATCH}: expected ${expectedServerIdentity}, certificate has [${found.join(', ')}]`,
      );
    },
  });
}

// Credentials by (material, expected identity). grpc-js builds one OpenSSL secure context per credentials object, so
// sharing them means one context for every client with the same certificates instead of one per connection attempt.
const sharedCredentials = new Map<string, grpc.ChannelCredentials>();
const SHARED_CREDENTIALS_MAX = 64;

/** Like clientCredentials, but the same material and identity give the same (cached) object. Bounded LRU of 64. */
export function sharedClientCredentials(
  m: TlsMaterial,
  expectedServerIdentity: string,
): grpc.ChannelCredentials {
  const key = `${expectedServerIdentity}\n${m.ca}\n${m.cert}\n${m.key}`;
  let creds = sharedCredentials.get(key);
  if (creds) {
    sharedCredentials.delete(key);
    sharedCredentials.set(key, creds);
    return creds;
  }
  creds = clientCredentials(m, expectedServerIdentity);
  sharedCredentials.set(key, creds);
  if (sharedCredentials.size > SHARED_CREDENTIALS_MAX) {
    const oldest = sharedCredentials.keys().next().value;
    if (oldest !== undefined) sharedCredentials.delete(oldest);
  }
  return creds;
}
