// The shared pool's certificate: the operator issues it (SAN URI POOL_IDENTITY, from its own CA)
// into a Secret in its namespace that every pool pod mounts, and issues it again before it expires
// or when the CA changed. A leader-bound runnable; pool pods wait in ContainerCreating until the
// Secret exists, and their control servers reload the files when the kubelet updates them.
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { V1Secret } from '@kubernetes/client-node';
import { notAfter } from '../../control/index.js';
import { sanUris } from '../../control/pki.js';
import { POOL_IDENTITY } from '../../contract/identities.js';
import { isAlreadyExists, isNotFound, sleep, type KubeClient, type Runnable } from '../runtime/index.js';
import { CA_KEY, CERT_KEY, DEFAULT_RENEW_BEFORE_MS, IDENTITY_ANNOTATION, KEY_KEY } from './certs-secret.js';
import type { OperatorPki } from './operator-pki.js';

/** Label value marking the Secret as the operator's: app.kubernetes.io/component=pool-certificate. */
export const POOL_CERT_COMPONENT = 'pool-certificate';
/** How soon a failed issue or write is tried again: 30 s. */
export const POOL_CERT_RETRY_MS = 30_000;

/** Options of {@link PoolCertificate}. */
export interface PoolCertificateOptions {
  client: KubeClient;
  pki: Pick<OperatorPki, 'caPem' | 'issuePool'>;
  namespace: string;
  /** Default samplesource-pool-tls. */
  secretName?: string;
  logger: Logger;
  /** Default {@link DEFAULT_RENEW_BEFORE_MS}. */
  renewBeforeMs?: number;
}

/** What to do with the pool Secret. */
export type PoolSecretVerdict =
  | { action: 'keep'; renewAt: Date }
  | {
      action: 'issue';
      reason: 'Missing' | 'Unreadable' | 'WrongIdentity' | 'CaChanged' | 'NotIssuedByCa' | 'Expiring';
    }
  | { action: 'conflict'; message: string };

const decode = (s: V1Secret, key: string) =>
  s.data?.[key] === undefined ? undefined : Buffer.from(s.data[key], 'base64').toString('utf8');

/** Decides whether the pool Secret still serves: ours, readable, issued by the current CA for the pool, not expiring. */
export function checkPoolSecret(
  secret: V1Secret | undefined,
  expect: { caPem: string; now: Date; renewBeforeMs?: number },
): PoolSecretVerdict {
  if (!secret) return { action: 'issue', reason: 'Missing' };
  if (secret.metadata?.labels?.['app.kubernetes.io/component'] !== POOL_CERT_COMPONENT)
    return {
      action: 'conflict',
      message: `Secret ${secret.metadata?.name} exists and was not written by the operator (label app.kubernetes.io/component=${POOL_CERT_COMPONENT} missing); not overwritten`,
    };
  const ca = decode(secret, CA_KEY);
  const certPem = decode(secret, CERT_KEY);
  if (!ca || !certPem || !decode(secret, KEY_KEY)) return { action: 'issue', reason: 'Unreadable' };
  if (ca.trim() !== expect.caPem.trim()) return { action: 'issue', reason: 'CaChanged' };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
    if (!sanUris(certPem).includes(POOL_IDENTITY)) return { action: 'issue', reason: 'WrongIdentity' };
  } catch {
    return { action: 'issue', reason: 'Unreadable' };
  }
  try {
    const caCert = new X509Certificate(expect.caPem);
    if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey))
      return { action: 'issue', reason: 'NotIssuedByCa' };
  } catch {
    return { action: 'issue', reason: 'NotIssuedByCa' };
  }
  const renewAt = new Date(notAfter(certPem).getTime() - (expect.renewBeforeMs ?? DEFAULT_RENEW_BEFORE_MS));
  if (renewAt.getTime() <= expect.now.getTime()) return { action: 'issue', reason: 'Expiring' };
  return { action: 'keep', renewAt };
}

/** Keeps the pool's certificate Secret current while this replica leads. Add it to the manager. */
export class PoolCertificate implements Runnable {
  readonly name = 'pool-certificate';
  readonly needLeaderElection = true;

  constructor(private readonly options: PoolCertificateOptions) {}

  get secretName(): string {
    return this.options.secretName ?? 'samplesource-pool-tls';
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let waitMs = POOL_CERT_RETRY_MS;
      try {
        waitMs = await this.ensure();
      } catch (err) {
        this.options.logger.error(
          { secret: `${this.options.namespace}/${this.secretName}`, err: (err as Error).message },
          `pool certificate not written: ${(err as Error).message}; retrying in 30 s`,
        );
      }
      await sleep(waitMs, signal);
    }
  }

  /** Issues the Secret when needed; returns how long until it must be looked at again. */
  async ensure(now = new Date()): Promise<number> {
    const { client, namespace, logger } = this.options;
    const base = `/api/v1/namespaces/${namespace}/secrets`;
    const existing = await client
      .request<V1Secret>('GET', `${base}/${this.secretName}`)
      .catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
    const verdict = checkPoolSecret(existing, {
      caPem: this.options.pki.caPem,
      now,
      ...(this.options.renewBeforeMs !== undefined ? { renewBeforeMs: this.options.renewBeforeMs } : {}),
    });
    if (verdict.action === 'keep') return Math.max(1_000, verdict.renewAt.getTime() - now.getTime());
    if (verdict.action === 'conflict') {
      logger.error({ secret: `${namespace}/${this.secretName}` }, verdict.message);
      return POOL_CERT_RETRY_MS;
    }
    const bundle = await this.options.pki.issuePool();
    const b64 = (t: string) => Buffer.from(t, 'utf8').toString('base64');
    const secret: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: {
        name: this.secretName,
        namespace,
        labels: {
          'app.kubernetes.io/name': 'samplesource-pool',
          'app.kubernetes.io/component': POOL_CERT_COMPONENT,
          'app.kubernetes.io/managed-by': 'samplesource-operator',
        },
        annotations: { [IDENTITY_ANNOTATION]: POOL_IDENTITY },
        ...(existing?.metadata?.resourceVersion
          ? { resourceVersion: existing.metadata.resourceVersion }
          : {}),
      },
      data: { [CA_KEY]: b64(bundle.caPem), [CERT_KEY]: b64(bundle.certPem), [KEY_KEY]: b64(bundle.keyPem) },
    };
    if (existing) await client.request('PUT', `${base}/${this.secretName}`, { body: secret });
    else
      await client.request('POST', base, { body: secret }).catch((err: unknown) => {
        if (!isAlreadyExists(err)) throw err; // another replica's term wrote it: looked at again below
      });
    logger.info(
      { secret: `${namespace}/${this.secretName}`, reason: verdict.reason },
      'issued the pool certificate',
    );
    const renewBefore = this.options.renewBeforeMs ?? DEFAULT_RENEW_BEFORE_MS;
    return Math.max(1_000, notAfter(bundle.certPem).getTime() - renewBefore - now.getTime());
  }
}
