// The ApplyState sink schema: what the adapter accepts, and refusals that name the field without
// quoting a PEM bundle.
import { createCertificateAuthority } from '../control/pki.js';
import { AdapterSinkSchema, MAX_SINK_URI_LENGTH, sameSink } from '../contract/adapter-sink.js';
import { MAX_CA_CERTS_LENGTH, caCertsProblem } from '../contract/tls.js';

let pem = '';
beforeAll(async () => {
  pem = (await createCertificateAuthority({ commonName: 'adapter-sink schema CA' })).certPem;
});

describe('AdapterSinkSchema', () => {
  it('accepts a URI alone, or with CA certificates and an audience', () => {
    expect(AdapterSinkSchema.safeParse({ uri: 'http://display.demo.svc/' }).success).toBe(true);
    expect(
      AdapterSinkSchema.safeParse({ uri: 'https://10.0.0.1:8443/x', caCerts: pem + pem, audience: 'aud' })
        .success,
    ).toBe(true);
  });

  it.each([
    ['a relative URI', { uri: '/events' }, 'sink.uri'],
    ['another scheme', { uri: 'ftp://x/' }, 'sink.uri'],
    ['a URI over the bound', { uri: `http://x/${'a'.repeat(MAX_SINK_URI_LENGTH)}` }, 'at most 4096'],
    ['no certificate', { uri: 'https://x/', caCerts: 'hello' }, 'sink.caCerts'],
    [
      'a certificate that does not parse',
      { uri: 'https://x/', caCerts: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' },
      'sink.caCerts certificate 1',
    ],
    [
      'a bundle over 64 KiB',
      { uri: 'https://x/', caCerts: 'x'.repeat(MAX_CA_CERTS_LENGTH + 1) },
      'sink.caCerts',
    ],
    ['an audience with a space', { uri: 'https://x/', audience: 'a b' }, 'whitespace'],
    ['an unknown field', { uri: 'https://x/', token: 'a.b.c' }, 'token'],
  ])('refuses %s, naming it', (_name, sink, says) => {
    const parsed = AdapterSinkSchema.safeParse(sink);
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain(says);
    expect(JSON.stringify(parsed.error?.issues)).not.toContain('BEGIN CERTIFICATE');
  });

  it('applies the 64 KiB bound in caCertsProblem too, so env, spec and Addressable bundles share it', () => {
    expect(caCertsProblem(pem)).toBeUndefined();
    expect(caCertsProblem(pem.padEnd(MAX_CA_CERTS_LENGTH + 1, '\n'))).toMatch(/at most 65536/);
  });

  it('compares sinks by URI, CAs and audience', () => {
    expect(sameSink({ uri: 'http://a/' }, { uri: 'http://a/' })).toBe(true);
    expect(sameSink({ uri: 'http://a/' }, { uri: 'http://a/', audience: 'x' })).toBe(false);
    expect(sameSink({ uri: 'http://a/', caCerts: pem }, { uri: 'http://a/' })).toBe(false);
    expect(sameSink(undefined, { uri: 'http://a/' })).toBe(false);
  });
});
