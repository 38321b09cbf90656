import { createCertificateAuthority } from '../control/pki.js';
import { SinkConfigSchema } from '../contract/pool.js';
import { caCertsProblem } from '../contract/tls.js';

describe('sink CA bundles (one rule for spec, Addressable, K_CA_CERTS and pool assignments)', () => {
  let pem: string;
  beforeAll(async () => {
    pem = (await createCertificateAuthority({ commonName: 'sink CA' })).certPem;
  });

  it('accepts one or several PEM certificates', () => {
    expect(caCertsProblem(pem)).toBeUndefined();
    expect(caCertsProblem(`${pem}\n${pem}`)).toBeUndefined();
  });

  it('refuses text without certificates and a block that does not parse, saying which', () => {
    expect(caCertsProblem('hello')).toBe('must hold PEM certificates');
    expect(caCertsProblem(`${pem}\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----`)).toMatch(
      /^certificate 2 is not valid/,
    );
  });

  it('checks a pool assignment sink with the same rule', () => {
    expect(SinkConfigSchema.parse({ uri: 'https://x.example/', caCerts: pem })).toEqual({
      uri: 'https://x.example/',
      caCerts: pem,
    });
    const bad = SinkConfigSchema.safeParse({ uri: 'https://x.example/', caCerts: 'nope' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]).toMatchObject({ path: ['caCerts'], message: 'must hold PEM certificates' });
  });
});
