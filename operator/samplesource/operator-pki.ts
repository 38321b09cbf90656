// The operator's certificate authority: kept in a Secret in the operator's namespace (created on
// first start, shared by every replica), it issues the operator's own client certificate (in
// memory, renewed at half life) and each source's adapter certificate.
import type { Logger } from 'pino';
import {
  createCertificateAuthority,
  loadCertificateAuthority,
  notAfter,
  type CertificateAuthority,
  type TlsPems,
} from '../../control/index.js';
import {
  OPERATOR_IDENTITY,
  POOL_IDENTITY,
  adapterIdentity,
  adapterServerName,
} from '../../contract/identities.js';
import { isAlreadyExists, isNotFound, type KubeClient } from '../runtime/index.js';
import type { CertBundle } from './certs-secret.js';
import type { SampleSource } from '../../contract/samplesource.js';

/** Options of {@link OperatorPki.load}. */
export interface OperatorPkiOptions {
  namespace: string;
  /** Default `samplesource-operator-ca`. */
  secretName?: string;
  /** Validity of issued leaves. Default 24 h. */
  leafValidityHours?: number;
  logger: Logger;
}

interface CaSecret {
  metadata: { resourceVersion?: string };
  data?: Record<string, string>;
}

const decode = (b64: string | undefined) => (b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined);

/** The operator's CA and its current client certificate. */
export class OperatorPki {
  private operatorCert!: { certPem: string; keyPem: string };
  private renewTimer?: NodeJS.Timeout;
  private readonly ca: CertificateAuthority;
  private readonly options: OperatorPkiOptions;

  private constructor(ca: CertificateAuthority, options: OperatorPkiOptions) {
    this.ca = ca;
    this.options = options;
  }

  /** Reads the CA Secret, creating it if no replica has yet (a racing replica's CA wins). */
  static async load(client: KubeClient, options: OperatorPkiOptions): Promise<OperatorPki> {
    const name = options.secretName ?? 'samplesource-operator-ca';
    const path = `/api/v1/namespaces/${options.namespace}/secrets/${name}`;
    let secret = await client.request<CaSecret>('GET', path).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (!secret) {
      const fresh = await createCertificateAuthority({
        commonName: 'samplesource-operator-ca',
        validityHours: 24 * 365,
      });
      try {
        secret = await client.request<CaSecret>('POST', `/api/v1/namespaces/${options.namespace}/secrets`, {
          body: {
            apiVersion: 'v1',
            kind: 'Secret',
            type: 'Opaque',
            metadata: {
              name,
              namespace: options.namespace,
              labels: {
                'app.kubernetes.io/name': 'samplesource-operator',
                'app.kubernetes.io/component': 'ca',
              },
            },
            data: {
              'ca.crt': Buffer.from(fresh.certPem).toString('base64'),
              'ca.key': Buffer.from(fresh.keyPem).toString('base64'),
            },
          },
        });
        options.logger.info({ secret: `${options.namespace}/${name}` }, 'created the operator CA');
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        secret = await client.request<CaSecret>('GET', path);
      }
    }
    const certPem = decode(secret.data?.['ca.crt']);
    const keyPem = decode(secret.data?.['ca.key']);
    if (!certPem || !keyPem) throw new Error(`CA Secret ${options.namespace}/${name} lacks ca.crt or ca.key`);
    const pki = new OperatorPki(await loadCertificateAuthority({ certPem, keyPem }), options);
    await pki.renewOperatorCertificate();
    return pki;
  }

  /** The CA bundle adapters and the operator trust. */
  get caPem(): string {
    return this.ca.certPem;
  }

  /** The operator's client TLS material, current at the time of the call (for every new connection). */
  operatorTls = (): TlsPems => ({ caPem: this.ca.certPem, ...this.operatorCert });

  /** A certificate for a source's adapters: identity SAN URI, DNS SAN, server and client usages. */
  async issueAdapter(source: SampleSource): Promise<CertBundle> {
    const leaf = await this.ca.issue({
      commonName: `${source.metadata.namespace}/${source.metadata.name}`,
      uris: [adapterIdentity(source.metadata.namespace, source.metadata.name)],
      // So a stock gRPC client can verify the adapter by name (docs/control-protocol.md).
      dnsNames: [adapterServerName(source.metadata.namespace, source.metadata.name)],
      usages: ['server', 'client'],
      validityHours: this.options.leafValidityHours ?? 24,
    });
    return { caPem: this.ca.certPem, ...leaf };
  }

  /** The shared pool's server certificate: SAN URI {@link POOL_IDENTITY}, one for every pool pod. */
  async issuePool(): Promise<CertBundle> {
    const leaf = await this.ca.issue({
      commonName: 'samplesource-pool',
      uris: [POOL_IDENTITY],
      usages: ['server'],
      validityHours: this.options.leafValidityHours ?? 24,
    });
    return { caPem: this.ca.certPem, ...leaf };
  }

  /** Stops the renewal timer. */
  stop(): void {
    clearTimeout(this.renewTimer);
  }

  private async renewOperatorCertificate(): Promise<void> {
    this.operatorCert = await this.ca.issue({
      commonName: 'samplesource-operator',
      uris: [OPERATOR_IDENTITY],
      usages: ['client'],
      validityHours: this.options.leafValidityHours ?? 24,
    });
    // Renew at half life: existing streams keep their handshake, new connections get the new one.
    this.scheduleRenewal(Math.max(60_000, (notAfter(this.operatorCert.certPem).getTime() - Date.now()) / 2));
  }

  private scheduleRenewal(delayMs: number): void {
    clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => {
      this.renewOperatorCertificate().catch((err: unknown) => {
        this.options.logger.error(
          { err: (err as Error).message },
          'operator certificate renewal failed; retrying in 60 s',
        );
        this.scheduleRenewal(60_000);
      });
    }, delayMs);
    this.renewTimer.unref();
  }
}
