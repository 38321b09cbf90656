import type { Destination } from '../../contract/knative.js';
import { resolveSink, sinkRefTarget, SinkReason, type SinkLookup, type SinkResult } from './sink.js';

const NS = 'demo';
const serviceRef = { apiVersion: 'v1', kind: 'Service', name: 'display' };
const brokerRef = { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'default' };
const found = (object: unknown): SinkLookup => ({ found: true, object });
const broker = (url: unknown) => ({ kind: 'Broker', status: { address: { url } } });

describe('resolveSink', () => {
  const cases: Array<{
    name: string;
    dest: Destination | undefined;
    lookup?: SinkLookup;
    domain?: string;
    want: SinkResult;
  }> = [
    {
      name: 'absolute uri',
      dest: { uri: 'http://display.example/' },
      want: { ok: true, uri: 'http://display.example/' },
    },
    {
      name: 'https uri kept as written',
      dest: { uri: 'https://display.example:8443/in?x=1' },
      want: { ok: true, uri: 'https://display.example:8443/in?x=1' },
    },
    {
      name: 'core Service ref becomes its cluster DNS URL',
      dest: { ref: serviceRef },
      lookup: found({ kind: 'Service' }),
      want: { ok: true, uri: 'http://display.demo.svc.cluster.local' },
    },
    {
      name: 'core Service ref with another cluster domain',
      dest: { ref: serviceRef },
      lookup: found({ kind: 'Service' }),
      domain: 'corp.internal',
      want: { ok: true, uri: 'http://display.demo.svc.corp.internal' },
    },
    {
      name: 'ref with the source namespace spelled out',
      dest: { ref: { ...serviceRef, namespace: NS } },
      lookup: found({}),
      want: { ok: true, uri: 'http://display.demo.svc.cluster.local' },
    },
    {
      name: 'Addressable ref uses status.address.url',
      dest: { ref: brokerRef },
      lookup: found(broker('http://broker-ingress.knative-eventing.svc.cluster.local/demo/default')),
      want: { ok: true, uri: 'http://broker-ingress.knative-eventing.svc.cluster.local/demo/default' },
    },
    {
      name: 'Addressable with only status.addresses',
      dest: { ref: brokerRef },
      lookup: found({ status: { addresses: [{ url: 'https://b.example/x' }] } }),
      want: { ok: true, uri: 'https://b.example/x' },
    },
    {
      name: 'relative uri resolved against a Service',
      dest: { ref: serviceRef, uri: '/events' },
      lookup: found({}),
      want: { ok: true, uri: 'http://display.demo.svc.cluster.local/events' },
    },
    {
      name: 'relative path resolved against an address with a path (RFC 3986)',
      dest: { ref: brokerRef, uri: 'extra?y=2' },
      lookup: found(broker('http://ingress.example/demo/default')),
      want: { ok: true, uri: 'http://ingress.example/demo/extra?y=2' },
    },
    {
      name: 'relative uri that cannot be resolved',
      dest: { ref: serviceRef, uri: '//bad host/x' },
      lookup: found({}),
      want: {
        ok: false,
        reason: SinkReason.Invalid,
        message:
          'spec.sink.uri "//bad host/x" cannot be resolved against http://display.demo.svc.cluster.local/',
      },
    },
    {
      name: 'no sink',
      dest: undefined,
      want: { ok: false, reason: SinkReason.Missing, message: 'spec.sink needs a ref or a uri' },
    },
    {
      name: 'empty sink',
      dest: {},
      want: { ok: false, reason: SinkReason.Missing, message: 'spec.sink needs a ref or a uri' },
    },
    {
      name: 'relative uri without ref',
      dest: { uri: '/events' },
      want: {
        ok: false,
        reason: SinkReason.Invalid,
        message: 'spec.sink.uri "/events" must be an absolute http(s) URL when there is no ref',
      },
    },
    {
      name: 'absolute uri next to a ref',
      dest: { ref: serviceRef, uri: 'http://elsewhere/' },
      lookup: found({}),
      want: {
        ok: false,
        reason: SinkReason.Invalid,
        message: 'spec.sink.uri "http://elsewhere/" must be relative when a ref is set',
      },
    },
    {
      name: 'ref into another namespace',
      dest: { ref: { ...serviceRef, namespace: 'other' } },
      lookup: found({}),
      want: {
        ok: false,
        reason: SinkReason.NamespaceMismatch,
        message: `spec.sink.ref.namespace "other" differs from the source's namespace "demo"; cross-namespace sinks are not allowed`,
      },
    },
    {
      name: 'ref that was not looked up',
      dest: { ref: serviceRef },
      want: {
        ok: false,
        reason: SinkReason.ResolveFailed,
        message: 'Service demo/display (v1) was not looked up',
      },
    },
    {
      name: 'ref whose lookup failed',
      dest: { ref: brokerRef },
      lookup: { error: 'brokers.eventing.knative.dev is forbidden' },
      want: {
        ok: false,
        reason: SinkReason.ResolveFailed,
        message:
          'reading Broker demo/default (eventing.knative.dev/v1): brokers.eventing.knative.dev is forbidden',
      },
    },
    {
      name: 'ref to a kind the operator may not read',
      dest: { ref: brokerRef },
      lookup: {
        forbidden: 'grant get, list and watch with a ClusterRole labelled duck.knative.dev/addressable',
      },
      want: {
        ok: false,
        reason: SinkReason.Forbidden,
        message:
          'the operator may not read Broker demo/default (eventing.knative.dev/v1): grant get, list and watch with a ClusterRole labelled duck.knative.dev/addressable',
      },
    },
    {
      name: 'ref to a missing object',
      dest: { ref: serviceRef },
      lookup: { found: false },
      want: { ok: false, reason: SinkReason.NotFound, message: 'Service demo/display (v1) does not exist' },
    },
    {
      name: 'ref to an object without an address',
      dest: { ref: brokerRef },
      lookup: found({ status: {} }),
      want: {
        ok: false,
        reason: SinkReason.NotAddressable,
        message:
          'Broker demo/default (eventing.knative.dev/v1) has no status.address.url (not an Addressable, or not ready)',
      },
    },
    {
      name: 'ref to an object with a bad address',
      dest: { ref: brokerRef },
      lookup: found(broker('not a url')),
      want: {
        ok: false,
        reason: SinkReason.NotAddressable,
        message:
          'Broker demo/default (eventing.knative.dev/v1) has an address that is not an absolute http(s) URL: "not a url"',
      },
    },
  ];
  it.each(cases)('$name', ({ dest, lookup, domain, want }) => {
    expect(resolveSink(dest, NS, lookup, domain ? { clusterDomain: domain } : {})).toEqual(want);
  });
});

describe('sinkRefTarget', () => {
  it('is undefined without a ref', () => {
    expect(sinkRefTarget({ uri: 'http://x/' }, NS)).toBeUndefined();
    expect(sinkRefTarget(undefined, NS)).toBeUndefined();
  });
  it("defaults the namespace to the source's", () => {
    expect(sinkRefTarget({ ref: serviceRef }, NS)).toEqual({ ...serviceRef, namespace: NS });
    expect(sinkRefTarget({ ref: { ...serviceRef, namespace: 'x' } }, NS)).toEqual({
      ...serviceRef,
      namespace: 'x',
    });
  });
});

describe('resolveSink: CA certificates of HTTPS sinks', () => {
  let pemA: string;
  let pemB: string;
  beforeAll(async () => {
    const { createCertificateAuthority } = await import('../../control/pki.js');
    pemA = (await createCertificateAuthority({ commonName: 'a' })).certPem;
    pemB = (await createCertificateAuthority({ commonName: 'b' })).certPem;
  });
  const addressable = (url: string, CACerts?: string) =>
    found({ kind: 'Broker', status: { address: { url, ...(CACerts ? { CACerts } : {}) } } });

  it('carries spec.sink.CACerts with a uri', () => {
    expect(resolveSink({ uri: 'https://x.example/', CACerts: pemA }, NS, undefined)).toEqual({
      ok: true,
      uri: 'https://x.example/',
      caCerts: pemA,
    });
  });

  it("takes the Addressable's status.address.CACerts when the spec gives none", () => {
    expect(resolveSink({ ref: brokerRef }, NS, addressable('https://b.example/', pemB))).toEqual({
      ok: true,
      uri: 'https://b.example/',
      caCerts: pemB,
    });
  });

  it("prefers spec.sink.CACerts over the Addressable's", () => {
    const got = resolveSink({ ref: brokerRef, CACerts: pemA }, NS, addressable('https://b.example/', pemB));
    expect(got).toMatchObject({ ok: true, caCerts: pemA });
  });

  it('has none (default roots) when neither gives any', () => {
    expect(resolveSink({ ref: brokerRef }, NS, addressable('https://b.example/'))).toEqual({
      ok: true,
      uri: 'https://b.example/',
    });
  });

  it('refuses a CA bundle the adapter would refuse, naming where it came from', () => {
    const bad = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----';
    expect(resolveSink({ uri: 'https://x.example/', CACerts: bad }, NS, undefined)).toMatchObject({
      ok: false,
      reason: SinkReason.Invalid,
    });
    expect(
      resolveSink({ ref: brokerRef, CACerts: bad }, NS, addressable('https://b.example/')),
    ).toMatchObject({
      ok: false,
      reason: SinkReason.Invalid,
      message: expect.stringContaining('spec.sink.CACerts certificate 1 is not valid') as unknown,
    });
    expect(resolveSink({ ref: brokerRef }, NS, addressable('https://b.example/', 'not pem'))).toMatchObject({
      ok: false,
      reason: SinkReason.NotAddressable,
      message: expect.stringContaining('status.address.CACerts that must hold PEM certificates') as unknown,
    });
  });
});

describe('resolveSink: OIDC audience', () => {
  const withAudience = (url: string, audience?: string) =>
    found({ kind: 'Broker', status: { address: { url, ...(audience ? { audience } : {}) } } });

  it('carries spec.sink.audience with a uri', () => {
    expect(resolveSink({ uri: 'http://x.example/', audience: 'aud-x' }, NS, undefined)).toEqual({
      ok: true,
      uri: 'http://x.example/',
      audience: 'aud-x',
    });
  });

  it("takes the Addressable's status.address.audience when the spec gives none (also from addresses[])", () => {
    expect(resolveSink({ ref: brokerRef }, NS, withAudience('http://b.example/', 'broker-aud'))).toEqual({
      ok: true,
      uri: 'http://b.example/',
      audience: 'broker-aud',
    });
    const listed = found({ status: { addresses: [{ url: 'http://c.example/', audience: 'listed-aud' }] } });
    expect(resolveSink({ ref: brokerRef }, NS, listed)).toMatchObject({ ok: true, audience: 'listed-aud' });
  });

  it("prefers spec.sink.audience over the Addressable's, and has none when neither gives one", () => {
    expect(
      resolveSink({ ref: brokerRef, audience: 'mine' }, NS, withAudience('http://b.example/', 'theirs')),
    ).toMatchObject({ ok: true, audience: 'mine' });
    const none = resolveSink({ ref: brokerRef }, NS, withAudience('http://b.example/'));
    expect(none.ok && 'audience' in none).toBe(false);
  });

  it('applies spec.sink.audience to a core Service ref (which publishes no address of its own)', () => {
    expect(resolveSink({ ref: serviceRef, audience: 'svc-aud' }, NS, found({ kind: 'Service' }))).toEqual({
      ok: true,
      uri: 'http://display.demo.svc.cluster.local',
      audience: 'svc-aud',
    });
  });
});

it('refuses a resolved sink URI longer than the adapters accept (4096 characters)', () => {
  const lookup = {
    found: true as const,
    object: { status: { address: { url: `http://a/${'x'.repeat(4_000)}/` } } },
  };
  const sink = resolveSink(
    { ref: { apiVersion: 'x.dev/v1', kind: 'Thing', name: 't' }, uri: 'y'.repeat(200) },
    'demo',
    lookup,
  );
  expect(sink).toMatchObject({ ok: false, reason: 'SinkInvalid' });
  expect(sink.ok ? '' : sink.message).toContain('more than 4096');
});
