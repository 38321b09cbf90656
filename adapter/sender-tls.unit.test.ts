// HTTPS sinks: the sender verifies the sink with exactly the CAs it is given (Knative's
// Destination.CACerts), with Node's default roots when none; a sink failing verification is a
// failed, counted, explained delivery, never a silent success over an unverified connection.
import { CloudEvent } from 'cloudevents';
import { createCertificateAuthority, type CertificateAuthority } from '../control/pki.js';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { DevSink } from './dev-sink.js';
import { Heartbeat } from './heartbeat.js';
import { createMetrics } from './metrics.js';
import { SinkSender, type RetryPolicy } from './sender.js';
import { StateStore } from './state.js';

const policy: RetryPolicy = { retries: 1, initialDelayMs: 1, maxDelayMs: 10, attemptTimeoutMs: 5_000 };
const event = () => new CloudEvent({ type: 'dev.knative.sample', source: '/test', data: { sequence: 1 } });
const never = new AbortController().signal;

describe('SinkSender to an HTTPS sink', () => {
  let sinkCa: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let sink: DevSink;
  let url: URL;
  const senders: SinkSender[] = [];

  beforeAll(async () => {
    sinkCa = await createCertificateAuthority({ commonName: 'sink test CA' });
    otherCa = await createCertificateAuthority({ commonName: 'unrelated CA' });
    const leaf = await sinkCa.issue({ commonName: 'sink', ipAddresses: ['127.0.0.1'], usages: ['server'] });
    sink = new DevSink(leaf);
    url = await sink.start();
  });
  afterAll(async () => {
    await Promise.all(senders.map((s) => s.close()));
    await sink.close();
  });
  const sender = (caCerts?: string) => {
    const s = new SinkSender(url, policy, {}, undefined, caCerts ? { caCerts } : {});
    senders.push(s);
    return s;
  };

  it('delivers when given the CA that signed the sink', async () => {
    const before = sink.accepted.length;
    const outcome = await sender(sinkCa.certPem).send(event(), never);
    expect(url.protocol).toBe('https:');
    expect(outcome).toMatchObject({ ok: true, status: 202, attempts: 1 });
    expect(sink.accepted.length).toBe(before + 1);
  });

  it('also accepts a bundle of several PEM certificates', async () => {
    const outcome = await sender(`${otherCa.certPem}\n${sinkCa.certPem}`).send(event(), never);
    expect(outcome).toMatchObject({ ok: true });
  });

  it.each([
    ['another CA only (exactly the given CAs, not the default roots plus them)', () => otherCa.certPem],
    ['no CA (default roots, which do not know the sink CA)', () => undefined],
  ])('fails verification with %s, and says why', async (_name, ca) => {
    const before = sink.requests.length;
    const outcome = await sender(ca()).send(event(), never);
    expect(outcome).toMatchObject({ ok: false, attempts: 2, retryable: true });
    if (!outcome.ok) expect(outcome.error).toMatch(/CERT|certificate|SELF_SIGNED|UNABLE_TO_VERIFY/i);
    expect(sink.requests.length).toBe(before); // nothing reached the sink
  });

  it('makes heartbeats to a sink failing verification fail visibly: counted, logged, in the reported state', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString('utf8'));
          done();
        },
      }),
    );
    const metrics = createMetrics({ defaultMetrics: false });
    const store = new StateStore('beat-0', { intervalMs: 100, paused: false });
    const wrong = sender(otherCa.certPem);
    const before = sink.requests.length;
    const heartbeat = new Heartbeat({
      source: '/apis/v1/namespaces/demo/samplesources/beat',
      podName: 'beat-0',
      extensions: {},
      store,
      send: (e, signal) => wrong.send(e, signal),
      logger,
      metrics,
    });
    heartbeat.start();
    const until = performance.now() + 10_000;
    while (store.snapshot().eventsDropped < 2 && performance.now() < until)
      await new Promise((r) => setTimeout(r, 20));
    await heartbeat.stop(1_000);
    const state = store.snapshot();
    expect(state.eventsDropped).toBeGreaterThanOrEqual(2);
    expect(state.eventsSent).toBe(0);
    expect(state.lastSendError).toMatch(/CERT|certificate|UNABLE_TO_VERIFY|SELF_SIGNED/i);
    expect(
      (await metrics.eventsDropped.get()).values.find((v) => v.labels.reason === 'send_failed')?.value,
    ).toBeGreaterThanOrEqual(2);
    expect(
      lines.some(
        (l) => /dropped after 2 attempt/.test(l) && /CERT|certificate|UNABLE_TO_VERIFY|SELF_SIGNED/i.test(l),
      ),
    ).toBe(true);
    expect(sink.requests.length).toBe(before);
  });
});
