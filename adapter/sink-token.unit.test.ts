// OIDC sinks at the adapter, in-process, steered through a real mTLS control stream to a real
// HTTP sink: nothing goes out before a token (dropped as no_token), then every request carries
// `Authorization: Bearer <token>`, a refreshed token replaces it, a token for another audience or
// a malformed one is refused — and no log line, ack or error ever contains a token.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { CommandRejectedError } from '../control/index.js';
import { OP_SET_SINK_TOKEN, REDACTED, TOKEN_LOG_REDACT_PATHS } from '../contract/sink-token.js';
import { startAdapter, type RunningAdapter } from './adapter.js';
import { loadConfig } from './config.js';
import { DevSink } from './dev-sink.js';
import { SinkTokenHolder } from './sink-token.js';
import { Steering, issueCerts, loopbackAdapterEnv, type IssuedCerts } from './testkit.js';

const AUDIENCE = 'https://sink.example/oidc';
// Shaped like a ServiceAccount token (header.claims.signature, base64url), unique per call.
let minted = 0;
function fakeJws(): string {
  const part = (s: string) => Buffer.from(s).toString('base64url');
  return `${part('{"alg":"RS256"}')}.${part(`{"aud":"${AUDIENCE}","n":${++minted}}`)}.${part(`signature-${minted}-${'x'.repeat(40)}`)}`;
}
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

describe('adapter with an OIDC sink', () => {
  let dir: string;
  let certs: IssuedCerts;
  let sink: DevSink;
  let adapter: RunningAdapter;
  let steer: Steering;
  let logs: string[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adapter-oidc-'));
    certs = await issueCerts(dir, 'demo', 'oidc');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  beforeEach(async () => {
    sink = new DevSink();
    const url = await sink.start();
    logs = [];
    const capture = new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    });
    // As main.ts configures it, at the most verbose level.
    const logger = pino(
      { level: 'trace', redact: { paths: [...TOKEN_LOG_REDACT_PATHS], censor: REDACTED } },
      capture,
    );
    const config = loadConfig(
      loopbackAdapterEnv(
        { sink: url, namespace: 'demo', name: 'oidc', tlsDir: certs.adapterTlsDir, interval: '100ms' },
        { K_AUDIENCE: AUDIENCE, SINK_RETRIES: '0', SHUTDOWN_TIMEOUT: '500ms' },
      ),
    );
    adapter = await startAdapter(config, logger, { publishGapMs: 50, defaultMetrics: false });
    steer = Steering.of(adapter.controlPort, certs, logger);
  });

  afterEach(async () => {
    await steer.close();
    await adapter.close();
    await sink.close();
  });

  it('sends nothing before a token, then the token on every request, and a refreshed one after it', async () => {
    const waiting = await steer.waitForState(
      (s) => s.eventsDropped >= 2,
      'heartbeats dropped for want of a token',
    );
    expect(waiting.lastSendError).toBe(`no token yet for audience ${AUDIENCE}`);
    expect(sink.requests).toHaveLength(0);
    const dropped = await adapter.metrics.registry.getSingleMetricAsString(
      'samplesource_adapter_events_dropped_total',
    );
    expect(dropped).toMatch(/reason="no_token"\} [1-9]/);

    const first = fakeJws();
    await steer.send(OP_SET_SINK_TOKEN, { audience: AUDIENCE, token: first, expiresAt: inAnHour() });
    await sink.waitForAccepted(2);
    for (const r of sink.requests) expect(r.headers.authorization).toBe(`Bearer ${first}`);

    const second = fakeJws();
    await steer.send(OP_SET_SINK_TOKEN, { audience: AUDIENCE, token: second, expiresAt: inAnHour() });
    const from = sink.requests.length;
    await sink.waitUntil((all) => all.length >= from + 2, 'two requests after the refresh');
    // A request already on its way may still carry the old token; the ones after it do not.
    expect(sink.requests.at(-1)!.headers.authorization).toBe(`Bearer ${second}`);
    const all = logs.join('');
    expect(all).toContain('sink token received');
    expect(all).toContain('sink token refreshed');
    for (const t of [first, second]) expect(all).not.toContain(t.split('.')[2]!);
  });

  it('refuses a token for another audience or a malformed one without quoting it, and keeps sending nothing', async () => {
    const foreign = fakeJws();
    const refused = steer.send(OP_SET_SINK_TOKEN, {
      audience: 'other',
      token: foreign,
      expiresAt: inAnHour(),
    });
    await expect(refused).rejects.toBeInstanceOf(CommandRejectedError);
    const error = (await refused.catch((e: unknown) => e)) as CommandRejectedError;
    expect(error.code).toBe('AudienceMismatch');
    expect(error.message).not.toContain(foreign.split('.')[2]!);

    const secret = `not-a-jws-but-secret-${'y'.repeat(30)}`;
    const malformed = await steer
      .send(OP_SET_SINK_TOKEN, { audience: AUDIENCE, token: secret, expiresAt: inAnHour() })
      .catch((e: unknown) => e as CommandRejectedError);
    expect(malformed).toBeInstanceOf(CommandRejectedError);
    expect((malformed as CommandRejectedError).code).toBe('InvalidArgument');
    expect((malformed as CommandRejectedError).message).toMatch(/compact JWS/);
    expect((malformed as CommandRejectedError).message).not.toContain(secret);

    await steer.waitForState((s) => s.eventsDropped >= 2, 'still dropping');
    expect(sink.requests).toHaveLength(0);
    const all = logs.join('');
    expect(all).not.toContain(foreign.split('.')[2]!);
    expect(all).not.toContain(secret);
  });
});

describe('SinkTokenHolder', () => {
  it('stops presenting a token once it expired and never goes back to an older one', () => {
    let now = 1_000_000;
    const holder = new SinkTokenHolder('aud', () => now);
    expect(holder.authorization()).toEqual({ ok: false, reason: 'no token yet for audience aud' });
    holder.set({ audience: 'aud', token: 'a.b.new', expiresAt: new Date(now + 60_000).toISOString() });
    expect(holder.authorization()).toEqual({ ok: true, header: 'Bearer a.b.new' });
    // A resend of an older token (out of order across a reconnect) is ignored.
    holder.set({ audience: 'aud', token: 'a.b.old', expiresAt: new Date(now + 30_000).toISOString() });
    expect(holder.authorization()).toEqual({ ok: true, header: 'Bearer a.b.new' });
    now += 60_000;
    expect(holder.authorization()).toEqual({ ok: false, reason: 'the token for audience aud expired' });
  });
});
