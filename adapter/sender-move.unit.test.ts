// SinkSender.setTarget against real sinks (HTTP and HTTPS): an attempt already on the wire
// finishes at the old sink, every later attempt (retries included, same id) goes to the new one,
// and the new target's CAs are the only ones trusted from then on.
import { CloudEvent } from 'cloudevents';
import { createCertificateAuthority, type CertificateAuthority } from '../control/pki.js';
import { DevSink } from './dev-sink.js';
import { SinkSender, type RetryPolicy } from './sender.js';
import { startHttpsSink } from './testkit.js';

const policy: RetryPolicy = { retries: 2, initialDelayMs: 1, maxDelayMs: 10, attemptTimeoutMs: 5_000 };
const event = () => new CloudEvent({ type: 'dev.knative.sample', source: '/move', data: { sequence: 1 } });
const never = new AbortController().signal;

describe('SinkSender moved to another sink', () => {
  let sinkCa: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let plain: DevSink;
  let plainUrl: URL;
  let secure: DevSink;
  let secureUrl: URL;
  const senders: SinkSender[] = [];

  beforeAll(async () => {
    sinkCa = await createCertificateAuthority({ commonName: 'move test CA' });
    otherCa = await createCertificateAuthority({ commonName: 'move unrelated CA' });
    ({ sink: secure, url: secureUrl } = await startHttpsSink(sinkCa));
  });
  beforeEach(async () => {
    plain = new DevSink();
    plainUrl = await plain.start();
    secure.requests.length = 0;
    secure.behaviour = () => ({ status: 202 });
  });
  afterEach(() => plain.close());
  afterAll(async () => {
    await Promise.all(senders.map((s) => s.close()));
    await secure.close();
  });
  const sender = (hooks = {}) => {
    const s = new SinkSender(plainUrl, policy, hooks);
    senders.push(s);
    return s;
  };

  it('lets an attempt in flight finish at the old sink and sends the next event to the new HTTPS sink', async () => {
    const s = sender();
    plain.delayMs = 300;
    const inFlight = s.send(event(), never);
    await plain.waitUntil((r) => r.length === 1, 'the first attempt at the old sink');
    s.setTarget(secureUrl, { caCerts: sinkCa.certPem });
    expect(s.sink.href).toBe(secureUrl.href);
    // Not dropped by the move: the old connection pool closes only once its attempt answered.
    await expect(inFlight).resolves.toMatchObject({ ok: true, status: 202, attempts: 1 });
    const next = await s.send(event(), never);
    expect(next).toMatchObject({ ok: true, status: 202, attempts: 1 });
    expect(plain.requests).toHaveLength(1);
    expect(secure.accepted).toHaveLength(1);
  });

  it('sends the retry of an event that failed at the old sink to the new one, with the same id and source', async () => {
    plain.behaviour = () => ({ status: 503 });
    const s: SinkSender = sender({ onRetry: () => s.setTarget(secureUrl, { caCerts: sinkCa.certPem }) });
    const e = event();
    const outcome = await s.send(e, never);
    expect(outcome).toMatchObject({ ok: true, attempts: 2 });
    expect(plain.requests.map((r) => r.event?.id)).toEqual([e.id]);
    expect(secure.accepted.map((r) => [r.event?.id, r.event?.source])).toEqual([[e.id, '/move']]);
  });

  it('trusts only the new CAs: moving to a CA that did not sign the sink fails verification, moving back delivers', async () => {
    const s = sender();
    s.setTarget(secureUrl, { caCerts: otherCa.certPem });
    const refused = await s.send(event(), never);
    expect(refused.ok).toBe(false);
    expect(refused.ok ? '' : refused.error).toMatch(/certificate|UNABLE_TO_VERIFY|self[- ]signed/i);
    expect(secure.requests).toHaveLength(0);
    s.setTarget(secureUrl, { caCerts: sinkCa.certPem });
    await expect(s.send(event(), never)).resolves.toMatchObject({ ok: true, status: 202 });
    expect(secure.accepted).toHaveLength(1);
  });

  it('presents the authorization of the target in force, and none after moving to a sink without one', async () => {
    const s = sender();
    s.setTarget(plainUrl, { authorize: () => ({ ok: true, header: 'Bearer a.b.c' }) });
    await s.send(event(), never);
    s.setTarget(plainUrl, {});
    await s.send(event(), never);
    expect(plain.requests.map((r) => r.headers.authorization)).toEqual(['Bearer a.b.c', undefined]);
  });
});
