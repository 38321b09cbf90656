import { X509Certificate } from 'node:crypto';
import { createCertificateAuthority, sanUris, notAfter } from './pki.js';

describe('pki', () => {
  it('issues a leaf that chains to its CA and carries the SAN URIs, DNS names and IPs asked for', async () => {
    const ca = await createCertificateAuthority({ commonName: 'test-ca' });
    const leaf = await ca.issue({
      commonName: 'adapter',
      uris: ['spiffe://samplesource/ns/default/source/a'],
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      validityHours: 2,
    });
    const caCert = new X509Certificate(ca.certPem);
    const leafCert = new X509Certificate(leaf.certPem);
    expect(caCert.ca).toBe(true);
    expect(leafCert.ca).toBe(false);
    expect(leafCert.checkIssued(caCert)).toBe(true);
    expect(leafCert.verify(caCert.publicKey)).toBe(true);
    expect(sanUris(leaf.certPem)).toEqual(['spiffe://samplesource/ns/default/source/a']);
    expect(leafCert.subjectAltName).toContain('DNS:localhost');
    expect(leafCert.subjectAltName).toContain('IP Address:127.0.0.1');
    const hoursLeft = (notAfter(leaf.certPem).getTime() - Date.now()) / 3_600_000;
    expect(hoursLeft).toBeGreaterThan(1.9);
    expect(hoursLeft).toBeLessThan(2.2);
  });

  it('puts organizations in the subject, as Kubernetes groups', async () => {
    const ca = await createCertificateAuthority({ commonName: 'client-ca' });
    const leaf = await ca.issue({
      commonName: 'admin',
      organizations: ['system:masters'],
      usages: ['client'],
    });
    const subject = new X509Certificate(leaf.certPem).subject;
    expect(subject).toContain('CN=admin');
    expect(subject).toContain('O=system:masters');
  });
});
