import { ConfigError, loadConfig } from './config.js';

const base = { K_SINK: 'http://127.0.0.1:8080/', SAMPLESOURCE_NAME: 'beat', SAMPLESOURCE_NAMESPACE: 'demo' };

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({ ...base });
    expect(c.sink.href).toBe('http://127.0.0.1:8080/');
    expect(c).toMatchObject({
      ceExtensions: {},
      name: 'beat',
      namespace: 'demo',
      intervalMs: 10_000,
      paused: false,
      controlAddress: '0.0.0.0',
      controlPort: 9443,
      healthAddress: '0.0.0.0',
      healthPort: 8080,
      tls: {
        caFile: '/etc/samplesource/tls/ca.crt',
        certFile: '/etc/samplesource/tls/tls.crt',
        keyFile: '/etc/samplesource/tls/tls.key',
      },
      operatorIdentity: 'spiffe://samplesource.knative.dev/operator',
      logLevel: 'info',
      sinkTimeoutMs: 5_000,
      sinkRetries: 4,
      shutdownTimeoutMs: 5_000,
    });
    expect(c.podName.length).toBeGreaterThan(0);
  });

  it('reads every variable', () => {
    const c = loadConfig({
      ...base,
      K_CE_OVERRIDES: '{"extensions":{"team":"blue","env2":"x"}}',
      POD_NAME: 'beat-abc',
      SAMPLESOURCE_INTERVAL: '1m30s',
      SAMPLESOURCE_PAUSED: 'true',
      CONTROL_ADDRESS: '127.0.0.9',
      CONTROL_PORT: '0',
      HEALTH_PORT: '9090',
      CONTROL_TLS_DIR: '/tmp/tls',
      OPERATOR_IDENTITY: 'spiffe://example.org/op',
      LOG_LEVEL: 'debug',
      SINK_TIMEOUT: '250ms',
      SINK_RETRIES: '0',
      SHUTDOWN_TIMEOUT: '2s',
    });
    expect(c).toMatchObject({
      ceExtensions: { team: 'blue', env2: 'x' },
      podName: 'beat-abc',
      intervalMs: 90_000,
      paused: true,
      controlAddress: '127.0.0.9',
      controlPort: 0,
      healthAddress: '127.0.0.9',
      healthPort: 9090,
      tls: { caFile: '/tmp/tls/ca.crt' },
      operatorIdentity: 'spiffe://example.org/op',
      logLevel: 'debug',
      sinkTimeoutMs: 250,
      sinkRetries: 0,
      shutdownTimeoutMs: 2_000,
    });
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ ...base, SAMPLESOURCE_INTERVAL: '', K_CE_OVERRIDES: '' }).intervalMs).toBe(10_000);
  });

  it.each([
    [{ K_SINK: undefined }, /K_SINK: is required/],
    [{ K_SINK: 'not a url' }, /K_SINK: must be an absolute http\(s\) URL \(got "not a url"\)/],
    [{ K_SINK: 'ftp://example.org/' }, /K_SINK: must be an absolute http\(s\) URL/],
    [{ SAMPLESOURCE_NAME: undefined }, /SAMPLESOURCE_NAME: is required/],
    [{ SAMPLESOURCE_NAMESPACE: 'Bad_NS' }, /SAMPLESOURCE_NAMESPACE: must be a Kubernetes namespace name/],
    [{ SAMPLESOURCE_INTERVAL: '10' }, /SAMPLESOURCE_INTERVAL: invalid duration "10"/],
    [{ SAMPLESOURCE_INTERVAL: '10ms' }, /SAMPLESOURCE_INTERVAL: interval "10ms" is below the minimum 100ms/],
    [{ SAMPLESOURCE_PAUSED: 'maybe' }, /SAMPLESOURCE_PAUSED: .*\(got "maybe"\)/],
    [{ CONTROL_PORT: '70000' }, /CONTROL_PORT: .*\(got "70000"\)/],
    [{ K_CE_OVERRIDES: '{oops' }, /K_CE_OVERRIDES: must be JSON/],
    [
      { K_CE_OVERRIDES: '{"extensions":{"Bad-Name":"x"}}' },
      /K_CE_OVERRIDES at extensions.Bad-Name: extension name "Bad-Name" must be 1-20 lowercase letters or digits/,
    ],
    [
      { K_CE_OVERRIDES: '{"extensions":{"type":"x"}}' },
      /K_CE_OVERRIDES at extensions.type: extension name "type" cannot override a core CloudEvents attribute/,
    ],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL: /],
  ])('rejects %j with a message naming the variable', (patch, message) => {
    const env: Record<string, string | undefined> = { ...base, ...patch };
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('names every bad variable in one message', () => {
    expect(() =>
      loadConfig({ SAMPLESOURCE_NAME: 'x', SAMPLESOURCE_NAMESPACE: 'y', CONTROL_PORT: 'abc' }),
    ).toThrow(/^invalid adapter configuration: .*K_SINK: is required.*; CONTROL_PORT: /);
  });
});

describe('loadConfig: K_CA_CERTS (the sink CA bundle)', () => {
  it('is optional, and kept as given when it holds PEM certificates', async () => {
    const { createCertificateAuthority } = await import('../control/pki.js');
    const ca = await createCertificateAuthority({ commonName: 'sink CA' });
    expect(loadConfig({ ...base }).sinkCaCerts).toBeUndefined();
    expect(loadConfig({ ...base, K_CA_CERTS: ca.certPem }).sinkCaCerts).toBe(ca.certPem);
  });

  it.each([
    ['not PEM at all', 'hello', 'must hold PEM certificates'],
    [
      'a PEM block that is no certificate',
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
      'certificate 1 is not valid',
    ],
  ])('refuses %s, naming the variable without printing the bundle', (_name, value, message) => {
    expect(() => loadConfig({ ...base, K_CA_CERTS: value })).toThrow(ConfigError);
    try {
      loadConfig({ ...base, K_CA_CERTS: value });
    } catch (err) {
      expect((err as Error).message).toContain(`K_CA_CERTS: ${message}`);
      expect((err as Error).message).not.toContain('got');
    }
  });
});
