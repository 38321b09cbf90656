// The sink moved live over the control stream (ApplyState.sink), in-process: a real adapter
// steered over mTLS moves from a plain HTTP sink to an HTTPS sink verified with the CA the command
// carries, without a restart (one process, one sequence), with ConfigApplied semantics (the result
// says succeeded once the new sink is in force), refusals naming the field, and a new audience
// whose token is awaited before anything is sent.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { CommandRejectedError } from '../control/index.js';
import { createCertificateAuthority, type CertificateAuthority } from '../control/pki.js';
import { OP_APPLY_STATE } from '../contract/commands.js';
import { OP_SET_SINK_TOKEN, REASON_AUDIENCE_MISMATCH } from '../contract/sink-token.js';
import { startAdapter, type RunningAdapter } from './adapter.js';
import { loadConfig } from './config.js';
import { DevSink } from './dev-sink.js';
import type { HeartbeatData } from './heartbeat.js';
import { Steering, issueCerts, loopbackAdapterEnv, startHttpsSink, type IssuedCerts } from './testkit.js';

const seq = (r: { event?: { data?: unknown } }) => (r.event!.data as HeartbeatData).sequence;
const fakeJws = (n: number) =>
  ['{"alg":"RS256"}', `{"n":${n}}`, `signature-${n}-${'x'.repeat(40)}`]
    .map((s) => Buffer.from(s).toString('base64url'))
    .join('.');
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

describe('adapter sink moved live by ApplyState', () => {
  let dir: string;
  let certs: IssuedCerts;
  let sinkCa: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let plain: DevSink;
  let plainUrl: URL;
  let secure: DevSink;
  let secureUrl: URL;
  let adapter: RunningAdapter;
  let steer: Steering;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adapter-sink-move-'));
    certs = await issueCerts(dir, 'demo', 'mover');
    sinkCa = await createCertificateAuthority({ commonName: 'sink-move CA' });
    otherCa = await createCertificateAuthority({ commonName: 'sink-move unrelated CA' });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  beforeEach(async () => {
    plain = new DevSink();
    plainUrl = await plain.start();
    ({ sink: secure, url: secureUrl } = await startHttpsSink(sinkCa));
    const config = loadConfig(
      loopbackAdapterEnv(
        { sink: plainUrl, namespace: 'demo', name: 'mover', tlsDir: certs.adapterTlsDir, interval: '100ms' },
        { SINK_RETRIES: '0', SHUTDOWN_TIMEOUT: '500ms' },
      ),
    );
    adapter = await startAdapter(config, pino({ level: 'silent' }), {
      publishGapMs: 50,
      defaultMetrics: false,
      // Room for the slow sink's sends, so no tick is skipped as busy (that would count as dropped).
      maxInFlight: 10,
    });
    steer = Steering.of(adapter.controlPort, certs);
  });
  afterEach(async () => {
    await steer.close();
    await adapter.close();
    await Promise.all([plain.close(), secure.close()]);
  });

  const apply = (generation: number, sink?: object) =>
    steer.run(OP_APPLY_STATE, { generation, interval: '100ms', paused: false, ...(sink ? { sink } : {}) });

  it('moves from HTTP to an HTTPS sink with its CA: the send in flight lands at the old sink, the sequence goes on at the new one', async () => {
    await plain.waitForAccepted(2);
    const opened = await steer.waitForState(() => true, 'the first state');
    expect(opened.sinkUri).toBe(plainUrl.href);
    // A slow old sink: the heartbeat on the wire at the moment of the move must still land there.
    plain.delayMs = 250;
    const onTheWire = plain.requests.length + 1;
    await plain.waitUntil((r) => r.length >= onTheWire, 'a request on the wire at the old sink');
    const result = await apply(1, { uri: secureUrl.href, caCerts: sinkCa.certPem });
    // Succeeded means in force: the detail already names the new sink.
    expect(result).toMatchObject({ succeeded: true, detail: { generation: 1, sinkUri: secureUrl.href } });
    await secure.waitForAccepted(3);
    const lastAtOld = plain.requests.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(plain.requests.length).toBe(lastAtOld);
    // The slow request answered 202 and was counted sent, not abandoned by the move.
    await steer.waitForState((s) => s.eventsDropped === 0 && s.eventsSent >= 3, 'nothing dropped');
    // One process throughout: its sequence continues across the sinks.
    const sequences = [...plain.accepted.map(seq), ...secure.accepted.map(seq)];
    expect(sequences.every((n, i) => i === 0 || n > sequences[i - 1]!)).toBe(true);
    expect(secure.accepted[0]!.event!.source).toBe('/apis/v1/namespaces/demo/samplesources/mover');
  });

  it('a CA that did not sign the sink makes deliveries fail visibly; the right one again delivers', async () => {
    await apply(1, { uri: secureUrl.href, caCerts: otherCa.certPem });
    const failing = await steer.waitForState(
      (s) => (s.consecutiveFailures ?? 0) >= 2,
      'deliveries failing verification',
    );
    expect(failing.lastSendFailureReason).toMatch(/certificate verify failed/);
    expect(secure.requests).toHaveLength(0);
    await apply(2, { uri: secureUrl.href, caCerts: sinkCa.certPem });
    await secure.waitForAccepted(2);
  });

  it('refuses a bad sink with InvalidArgument naming the field, and keeps the sink in force', async () => {
    for (const [sink, field] of [
      [{ uri: 'ftp://elsewhere/' }, 'sink.uri'],
      [{ uri: `http://a/${'x'.repeat(5_000)}` }, 'sink.uri'],
      [{ uri: secureUrl.href, caCerts: 'not a certificate' }, 'sink.caCerts'],
      [{ uri: secureUrl.href, audience: 'two words' }, 'audience'],
      [{ uri: secureUrl.href, extra: true }, 'extra'],
    ] as const) {
      const refused = steer.send(OP_APPLY_STATE, { generation: 1, interval: '100ms', paused: false, sink });
      await expect(refused).rejects.toBeInstanceOf(CommandRejectedError);
      await expect(refused).rejects.toMatchObject({ code: 'InvalidArgument' });
      await expect(refused).rejects.toThrow(field);
      await expect(refused).rejects.not.toThrow('BEGIN CERTIFICATE');
    }
    const before = plain.accepted.length;
    await plain.waitForAccepted(before + 2);
    expect(adapter.store.snapshot().generation).toBe(0);
    expect(secure.requests).toHaveLength(0);
  });

  it('a new audience: nothing sent until its token arrives, a token for another audience refused, then the token on every request', async () => {
    await apply(1, { uri: secureUrl.href, caCerts: sinkCa.certPem, audience: 'aud-new' });
    const waiting = await steer.waitForState((s) => (s.consecutiveFailures ?? 0) >= 2, 'heartbeats dropped');
    expect(waiting.lastSendError).toBe('no token yet for audience aud-new');
    expect(secure.requests).toHaveLength(0);
    const wrong = steer.send(OP_SET_SINK_TOKEN, {
      audience: 'aud-old',
      token: fakeJws(1),
      expiresAt: inAnHour(),
    });
    await expect(wrong).rejects.toMatchObject({ code: REASON_AUDIENCE_MISMATCH });
    const token = fakeJws(2);
    await steer.send(OP_SET_SINK_TOKEN, { audience: 'aud-new', token, expiresAt: inAnHour() });
    await secure.waitForAccepted(2);
    for (const r of secure.requests) expect(r.headers.authorization).toBe(`Bearer ${token}`);
    // Back to a sink without an audience: no token presented any more.
    await apply(2, { uri: secureUrl.href, caCerts: sinkCa.certPem });
    const from = secure.requests.length;
    await secure.waitUntil((r) => r.length >= from + 4, 'more heartbeats');
    expect(secure.requests.at(-1)!.headers.authorization).toBeUndefined();
  });

  it('an ApplyState without a sink (an older operator) keeps the sink in force', async () => {
    await apply(1);
    const before = plain.accepted.length;
    await plain.waitForAccepted(before + 2);
    expect(adapter.store.snapshot().sinkUri).toBe(adapter.store.sink!.uri);
    expect(secure.requests).toHaveLength(0);
  });
});
