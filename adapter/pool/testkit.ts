// Helpers for the pool's tests and benchmarks: pool and operator certificates from one CA, laid
// out the way the pool's Secret mounts them, and builders of assignments.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCertificateAuthority, type CertificateAuthority, type TlsPems } from '../../control/index.js';
import { OPERATOR_IDENTITY, POOL_IDENTITY } from '../../contract/identities.js';
import type { SourceAssignmentInput } from '../../contract/pool.js';

/** Certificates of one pool and one operator. */
export interface PoolCerts {
  /** ca.crt, tls.crt, tls.key of the pool (CONTROL_TLS_DIR). */
  poolTlsDir: string;
  operator: TlsPems;
  ca: CertificateAuthority;
}

/** Issues a CA, the pool's certificate (SAN {@link POOL_IDENTITY}) and the operator's. */
export async function issuePoolCerts(dir: string): Promise<PoolCerts> {
  const ca = await createCertificateAuthority({ commonName: 'samplesource-pool-test-ca' });
  const pool = await ca.issue({ commonName: 'samplesource-pool', uris: [POOL_IDENTITY], usages: ['server'] });
  const operator = await ca.issue({
    commonName: 'samplesource-operator',
    uris: [OPERATOR_IDENTITY],
    usages: ['client'],
  });
  const poolTlsDir = join(dir, 'pool');
  await mkdir(poolTlsDir, { recursive: true });
  await writeFile(join(poolTlsDir, 'ca.crt'), ca.certPem);
  await writeFile(join(poolTlsDir, 'tls.crt'), pool.certPem);
  await writeFile(join(poolTlsDir, 'tls.key'), pool.keyPem, { mode: 0o600 });
  return {
    poolTlsDir,
    operator: { caPem: ca.certPem, certPem: operator.certPem, keyPem: operator.keyPem },
    ca,
  };
}

/** An assignment with test defaults: generation 1, every 200 ms, not paused, uid "uid-<name>". */
export function assignment(
  key: string,
  sink: URL,
  over: Partial<SourceAssignmentInput> = {},
): SourceAssignmentInput {
  return {
    key,
    uid: `uid-${key.replace('/', '-')}`,
    generation: 1,
    interval: '200ms',
    paused: false,
    sink: { uri: sink.href },
    ...over,
  };
}
