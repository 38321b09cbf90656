import { describeSpecErrors, parseSampleSource, type SpecError } from './samplesource.js';

const metadata = { name: 'sample-source', namespace: 'demo', uid: 'uid-1', generation: 3 };
const uriSink = { uri: 'http://display.demo.svc.cluster.local' };

describe('parseSampleSource', () => {
  it('applies the defaults of the CRD', () => {
    const parsed = parseSampleSource({ metadata, spec: { sink: uriSink } });
    expect(parsed).toEqual({
      ok: true,
      source: {
        apiVersion: 'samples.knative.dev/v1alpha1',
        kind: 'SampleSource',
        metadata,
        spec: { interval: '10s', paused: false, replicas: 1, sink: uriSink },
      },
    });
  });

  it('keeps every field it knows and the status', () => {
    const spec = {
      interval: '1m30s',
      paused: true,
      replicas: 3,
      serviceAccountName: 'heartbeats',
      ceOverrides: { extensions: { team: 'blue' } },
      sink: { ref: { apiVersion: 'v1', kind: 'Service', name: 'display' }, uri: '/events' },
    };
    const parsed = parseSampleSource({ metadata, spec, status: { observedGeneration: 2 } });
    expect(parsed.ok && parsed.source.spec).toEqual(spec);
    expect(parsed.ok && parsed.source.status).toEqual({ observedGeneration: 2 });
  });

  const invalid: Array<{ name: string; spec: unknown; want: SpecError[] }> = [
    {
      name: 'no spec at all',
      spec: undefined,
      want: [{ path: 'spec.sink', message: 'required', area: 'sink' }],
    },
    {
      name: 'no sink',
      spec: { interval: '1s' },
      want: [{ path: 'spec.sink', message: 'required', area: 'sink' }],
    },
    {
      name: 'empty sink',
      spec: { sink: {} },
      want: [{ path: 'spec.sink', message: 'expected at least one of ref and uri', area: 'sink' }],
    },
    {
      name: 'relative uri without ref',
      spec: { sink: { uri: '/events' } },
      want: [
        {
          path: 'spec.sink.uri',
          message: 'uri "/events" must be an absolute http(s) URL when ref is absent',
          area: 'sink',
        },
      ],
    },
    {
      name: 'non-http uri',
      spec: { sink: { uri: 'ftp://files.example/x' } },
      want: [
        {
          path: 'spec.sink.uri',
          message: 'uri "ftp://files.example/x" must be an absolute http(s) URL when ref is absent',
          area: 'sink',
        },
      ],
    },
    {
      name: 'absolute uri next to a ref',
      spec: { sink: { ref: { apiVersion: 'v1', kind: 'Service', name: 'd' }, uri: 'http://other/x' } },
      want: [
        {
          path: 'spec.sink.uri',
          message: `uri "http://other/x" must be relative when ref is set (it is resolved against the ref's address)`,
          area: 'sink',
        },
      ],
    },
    {
      name: 'ref without a name',
      spec: { sink: { ref: { apiVersion: 'v1', kind: 'Service' } } },
      want: [{ path: 'spec.sink.ref.name', message: 'required', area: 'sink' }],
    },
    {
      name: 'interval that is not a duration',
      spec: { interval: 'ten', sink: uriSink },
      want: [
        {
          path: 'spec.interval',
          message: 'invalid duration "ten": missing number before unit',
          area: 'config',
        },
      ],
    },
    {
      name: 'interval below the minimum',
      spec: { interval: '50ms', sink: uriSink },
      want: [
        { path: 'spec.interval', message: 'interval "50ms" is below the minimum 100ms', area: 'config' },
      ],
    },
    {
      name: 'interval above the maximum',
      spec: { interval: '25h', sink: uriSink },
      want: [{ path: 'spec.interval', message: 'interval "25h" is above the maximum 24h', area: 'config' }],
    },
    {
      name: 'paused that is not a boolean',
      spec: { paused: 'yes', sink: uriSink },
      want: [
        { path: 'spec.paused', message: 'Invalid input: expected boolean, received string', area: 'config' },
      ],
    },
    {
      name: 'too many replicas',
      spec: { replicas: 11, sink: uriSink },
      want: [{ path: 'spec.replicas', message: 'Too big: expected number to be <=10', area: 'deployment' }],
    },
    {
      name: 'zero replicas',
      spec: { replicas: 0, sink: uriSink },
      want: [{ path: 'spec.replicas', message: 'Too small: expected number to be >=1', area: 'deployment' }],
    },
    {
      name: 'bad ServiceAccount name',
      spec: { serviceAccountName: 'Not_Valid', sink: uriSink },
      want: [
        {
          path: 'spec.serviceAccountName',
          message: 'must be a DNS subdomain (a ServiceAccount name)',
          area: 'deployment',
        },
      ],
    },
    {
      name: 'bad CloudEvent extension name',
      spec: { ceOverrides: { extensions: { 'Bad-Name': 'x' } }, sink: uriSink },
      want: [
        {
          path: 'spec.ceOverrides.extensions.Bad-Name',
          message: 'extension name "Bad-Name" must be 1-20 lowercase letters or digits',
          area: 'deployment',
        },
      ],
    },
    {
      name: 'several problems at once, each in its area',
      spec: { interval: '1ms', replicas: 50 },
      want: [
        { path: 'spec.interval', message: 'interval "1ms" is below the minimum 100ms', area: 'config' },
        { path: 'spec.sink', message: 'required', area: 'sink' },
        { path: 'spec.replicas', message: 'Too big: expected number to be <=10', area: 'deployment' },
      ],
    },
  ];
  it.each(invalid)('rejects $name with a readable error', ({ spec, want }) => {
    const parsed = parseSampleSource({ metadata, spec });
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.metadata).toEqual(metadata);
    expect(!parsed.ok && parsed.errors).toEqual(want);
  });

  it.each([
    { name: 'not an object', raw: 'nonsense' },
    {
      name: 'no uid',
      raw: { metadata: { name: 'a', namespace: 'n', generation: 1 }, spec: { sink: uriSink } },
    },
    {
      name: 'a name too long for a label',
      raw: { metadata: { ...metadata, name: 'n'.repeat(64) }, spec: { sink: uriSink } },
    },
  ])('reports unusable metadata ($name) without throwing', ({ raw }) => {
    const parsed = parseSampleSource(raw);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.metadata).toBeUndefined();
    expect(!parsed.ok && parsed.errors.length).toBeGreaterThan(0);
  });

  it('describes errors in one line for a condition message', () => {
    expect(
      describeSpecErrors([
        { path: 'spec.sink', message: 'required', area: 'sink' },
        { path: 'spec.replicas', message: 'too big', area: 'deployment' },
      ]),
    ).toBe('spec.sink: required; spec.replicas: too big');
  });
});
