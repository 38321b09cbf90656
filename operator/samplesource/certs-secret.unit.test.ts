import type { V1Secret } from '@kubernetes/client-node';
import { createCertificateAuthority, type CertificateAuthority } from '../../control/pki.js';
import type { SampleSource } from '../../contract/samplesource.js';
import { buildCertSecret, checkCertSecret, type CertBundle, type CertSecretVerdict } from './certs-secret.js';
import { certSecretName } from './names.js';

const source: SampleSource = {
  apiVersion: 'samples.knative.dev/v1alpha1',
  kind: 'SampleSource',
  metadata: { name: 'sample-source', namespace: 'demo', uid: 'uid-1', generation: 1 },
  spec: { interval: '10s', paused: false, replicas: 1, sink: { uri: 'http://x/' } },
};
const IDENTITY = 'spiffe://samplesource.knative.dev/ns/demo/samplesource/sample-source';
const DNS_NAME = 'sample-source.demo.adapter.samplesource.knative.dev';

let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
let good: CertBundle;

async function bundle(
  from: CertificateAuthority,
  uris: string[],
  validityHours = 24,
  caPem = ca.certPem,
  dnsNames = [DNS_NAME],
): Promise<CertBundle> {
  const leaf = await from.issue({ commonName: 'adapter', uris, dnsNames, validityHours });
  return { caPem, certPem: leaf.certPem, keyPem: leaf.keyPem };
}

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'samplesource-ca' });
  otherCa = await createCertificateAuthority({ commonName: 'another-ca' });
  good = await bundle(ca, [IDENTITY]);
});

describe('buildCertSecret', () => {
  it('builds a kubernetes.io/tls Secret controlled by the source', () => {
    const secret = buildCertSecret(source, good);
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(secret.metadata!.name).toBe(certSecretName(source));
    expect(secret.metadata!.namespace).toBe('demo');
    expect(secret.metadata!.annotations).toEqual({ 'samples.knative.dev/identity': IDENTITY });
    expect(secret.metadata!.ownerReferences).toEqual([
      {
        apiVersion: 'samples.knative.dev/v1alpha1',
        kind: 'SampleSource',
        name: 'sample-source',
        uid: 'uid-1',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    const decoded = Object.fromEntries(
      Object.entries(secret.data!).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
    );
    expect(decoded).toEqual({ 'ca.crt': good.caPem, 'tls.crt': good.certPem, 'tls.key': good.keyPem });
  });
});

describe('checkCertSecret', () => {
  const now = () => new Date();
  const cases: Array<{ name: string; secret: () => Promise<V1Secret | undefined>; want: CertSecretVerdict }> =
    [
      {
        name: 'keeps a valid certificate',
        secret: async () => buildCertSecret(source, good),
        want: { action: 'keep' },
      },
      {
        name: 'issues a missing Secret',
        secret: async () => undefined,
        want: { action: 'issue', reason: 'Missing' },
      },
      {
        name: 'never touches a Secret it does not control',
        secret: async () => {
          const s = buildCertSecret(source, good);
          s.metadata!.ownerReferences = [];
          return s;
        },
        want: {
          action: 'conflict',
          message: `Secret ${certSecretName(source)} exists and is not controlled by this SampleSource`,
        },
      },
      {
        name: 'reissues when a key is missing',
        secret: async () => {
          const s = buildCertSecret(source, good);
          delete s.data!['tls.key'];
          return s;
        },
        want: { action: 'issue', reason: 'Unreadable' },
      },
      {
        name: 'reissues a certificate that does not parse',
        secret: async () => buildCertSecret(source, { ...good, certPem: 'garbage' }),
        want: { action: 'issue', reason: 'Unreadable' },
      },
      {
        name: 'reissues when the CA changed',
        secret: async () => buildCertSecret(source, { ...good, caPem: otherCa.certPem }),
        want: { action: 'issue', reason: 'CaChanged' },
      },
      {
        name: 'reissues a certificate for another identity',
        secret: async () =>
          buildCertSecret(
            source,
            await bundle(ca, ['spiffe://samplesource.knative.dev/ns/demo/samplesource/other']),
          ),
        want: { action: 'issue', reason: 'WrongIdentity' },
      },
      {
        name: 'reissues a certificate without the DNS SAN (issued before adapters carried one)',
        secret: async () => buildCertSecret(source, await bundle(ca, [IDENTITY], 24, ca.certPem, [])),
        want: { action: 'issue', reason: 'WrongIdentity' },
      },
      {
        name: 'reissues a certificate another CA signed',
        secret: async () => buildCertSecret(source, await bundle(otherCa, [IDENTITY])),
        want: { action: 'issue', reason: 'NotIssuedByCa' },
      },
      {
        name: 'renews a certificate close to expiry',
        secret: async () => buildCertSecret(source, await bundle(ca, [IDENTITY], 2)),
        want: { action: 'issue', reason: 'Expiring' },
      },
    ];
  it.each(cases)('$name', async ({ secret, want }) => {
    expect(checkCertSecret(source, await secret(), { caPem: ca.certPem, now: now() })).toEqual(want);
  });

  it('accepts a certificate from any CA of the bundle (during a CA rotation)', async () => {
    const both = `${otherCa.certPem}\n${ca.certPem}`;
    const secret = buildCertSecret(source, { ...good, caPem: both });
    expect(checkCertSecret(source, secret, { caPem: both, now: now() })).toEqual({ action: 'keep' });
  });

  it('reissues when the CA bundle itself does not parse', () => {
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    const secret = buildCertSecret(source, { ...good, caPem: broken });
    expect(checkCertSecret(source, secret, { caPem: broken, now: now() })).toEqual({
      action: 'issue',
      reason: 'NotIssuedByCa',
    });
  });

  it('honours a custom renewal window', async () => {
    const secret = buildCertSecret(source, await bundle(ca, [IDENTITY], 2));
    expect(checkCertSecret(source, secret, { caPem: ca.certPem, now: now(), renewBeforeMs: 60_000 })).toEqual(
      { action: 'keep' },
    );
  });
});
