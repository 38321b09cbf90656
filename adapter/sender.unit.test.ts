import { CloudEvent } from 'cloudevents';
import fc from 'fast-check';
import type { DevSink } from './dev-sink.js';
import { sinkPerTest } from './sink-per-test.js';
import {
  SinkSender,
  backoffDelay,
  parseRetryAfter,
  retryDelay,
  type RetryPolicy,
  type SenderTiming,
} from './sender.js';

/** Virtual time: records every delay the sender asks for and lets it pass at once. */
function virtualTiming(random: () => number = Math.random): SenderTiming & { delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    random,
    sleep: (ms, signal) => {
      delays.push(ms);
      return signal.aborted ? Promise.reject(signal.reason as Error) : Promise.resolve();
    },
  };
}

const fast: RetryPolicy = { retries: 3, initialDelayMs: 20, maxDelayMs: 2_000, attemptTimeoutMs: 1_000 };
const event = () =>
  new CloudEvent({ type: 'dev.knative.sample', source: '/test', data: { sequence: 1 }, team: 'blue' });
const never = new AbortController().signal;

describe('SinkSender against a real HTTP sink', () => {
  let sink: DevSink;
  let url: URL;
  sinkPerTest((s, u) => {
    sink = s;
    url = u;
  });

  it('sends in binary mode and the SDK reads the same event back', async () => {
    const e = event();
    const outcome = await new SinkSender(url, fast).send(e, never);
    expect(outcome).toMatchObject({ ok: true, status: 202, attempts: 1 });
    const got = sink.requests[0]!;
    expect(got.headers['ce-id']).toBe(e.id); // binary mode: attributes travel as ce- headers
    expect(got.event).toMatchObject({
      id: e.id,
      type: 'dev.knative.sample',
      source: '/test',
      team: 'blue',
      data: { sequence: 1 },
    });
  });

  it('carries space, quote, percent, non-ASCII and control characters intact (binding §3.1.3.2)', async () => {
    const value = 'two words ü 100% "quoted"\ttab €😀';
    const e = new CloudEvent({
      type: 'dev.knative.sample',
      source: '/apis/v1/namespaces/demo/samplesources/x%201',
      subject: 'sujet à 50%',
      data: { sequence: 1 },
      team: value,
    });
    const outcome = await new SinkSender(url, fast).send(e, never);
    expect(outcome).toMatchObject({ ok: true });
    const got = sink.requests[0]!;
    expect(got.headers['ce-team']).toBe(
      'two%20words%20%C3%BC%20100%25%20%22quoted%22%09tab%20%E2%82%AC%F0%9F%98%80',
    );
    expect(got.headers['ce-source']).toBe('/apis/v1/namespaces/demo/samplesources/x%25201');
    expect(got.event).toMatchObject({ team: value, source: e.source, subject: 'sujet à 50%', id: e.id });
  });

  it.each([404, 408, 409, 429, 500, 502, 503, 504, 507])(
    'redelivers on %i with the same id and source, then succeeds',
    async (status) => {
      sink.behaviour = (n) => (n < 2 ? { status } : { status: 202 });
      const retries: string[] = [];
      const timing = virtualTiming();
      const outcome = await new SinkSender(
        url,
        fast,
        { onRetry: (_a, _d, reason) => retries.push(reason) },
        timing,
      ).send(event(), never);
      expect(outcome).toMatchObject({ ok: true, status: 202, attempts: 3 });
      expect(retries).toEqual([
        expect.stringContaining(String(status)),
        expect.stringContaining(String(status)),
      ]);
      const first = sink.requests[0]!;
      for (const r of sink.requests) {
        expect(r.event?.id).toBe(first.event!.id);
        expect(r.event?.source).toBe('/test');
        expect(r.headers['ce-id']).toBe(first.headers['ce-id']);
        expect(r.headers['ce-source']).toBe(first.headers['ce-source']);
      }
      expect(timing.delays).toHaveLength(2);
    },
  );

  it.each([400, 401, 403, 405, 406, 410, 411, 412, 413, 415, 422, 451])(
    'never redelivers on %i',
    async (status) => {
      sink.behaviour = () => ({ status });
      const timing = virtualTiming();
      const outcome = await new SinkSender(url, fast, {}, timing).send(event(), never);
      expect(outcome).toMatchObject({ ok: false, status, attempts: 1, retryable: false });
      expect(sink.requests).toHaveLength(1);
      expect(timing.delays).toEqual([]);
    },
  );

  it('honours Retry-After (seconds and HTTP-date) within the cap, never below the backoff', async () => {
    sink.behaviour = (n) =>
      n === 0
        ? { status: 429, headers: { 'retry-after': '1' } }
        : n === 1
          ? { status: 503, headers: { 'retry-after': new Date(Date.now() + 60_000).toUTCString() } }
          : n === 2
            ? { status: 503, headers: { 'retry-after': '0' } }
            : { status: 202 };
    const timing = virtualTiming(() => 0);
    const outcome = await new SinkSender(url, { ...fast, initialDelayMs: 1 }, {}, timing).send(
      event(),
      never,
    );
    expect(outcome).toMatchObject({ ok: true, attempts: 4 });
    // 1 s as asked; 60 s capped at maxDelayMs (2 s); "0" does not shrink the delay.
    expect(timing.delays).toEqual([1_000, 2_000, 2_000]);
  });

  it('waits for real when no timing is injected (Retry-After: 1)', async () => {
    sink.behaviour = (n) => (n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 202 });
    const outcome = await new SinkSender(url, { ...fast, initialDelayMs: 1 }).send(event(), never);
    expect(outcome.ok).toBe(true);
    const gap = sink.requests[1]!.arrivedAt - sink.requests[0]!.arrivedAt;
    expect(gap).toBeGreaterThanOrEqual(950);
  });

  it('backs off exponentially on virtual time: never below the base, never shrinking, capped', async () => {
    sink.behaviour = () => ({ status: 503 });
    const timing = virtualTiming(() => 0.5);
    const policy: RetryPolicy = {
      retries: 8,
      initialDelayMs: 100,
      maxDelayMs: 3_000,
      attemptTimeoutMs: 1_000,
    };
    const outcome = await new SinkSender(url, policy, {}, timing).send(event(), never);
    expect(outcome).toMatchObject({ ok: false, attempts: 9, status: 503 });
    expect(timing.delays).toEqual([125, 250, 500, 1_000, 2_000, 3_000, 3_000, 3_000]);
  });

  it('gives up after the retry bound', async () => {
    sink.behaviour = () => ({ status: 500 });
    const outcome = await new SinkSender(url, fast, {}, virtualTiming()).send(event(), never);
    expect(outcome).toMatchObject({ ok: false, status: 500, attempts: 4, retryable: true, aborted: false });
    expect(sink.requests).toHaveLength(4);
  });

  it('times out an attempt on a sink that hangs, then retries', async () => {
    sink.behaviour = (n) => (n === 0 ? 'hang' : { status: 202 });
    const started = performance.now();
    const outcome = await new SinkSender(url, { ...fast, attemptTimeoutMs: 200 }).send(event(), never);
    expect(outcome).toMatchObject({ ok: true });
    expect(outcome.attempts).toBeGreaterThanOrEqual(2);
    expect(sink.requests[0]!.status).toBe(0); // the first attempt hung and was cut by the timeout
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('retries network errors (nothing listening)', async () => {
    await sink.close();
    const outcome = await new SinkSender(url, { ...fast, retries: 1 }).send(event(), never);
    expect(outcome).toMatchObject({ ok: false, attempts: 2, retryable: true });
    if (!outcome.ok) expect(outcome.error).toMatch(/ECONNREFUSED/);
  });

  it('abandons at once when the signal fires, even mid-request', async () => {
    sink.behaviour = () => 'hang';
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error('shutting down')), 100);
    const started = performance.now();
    const outcome = await new SinkSender(url, { ...fast, attemptTimeoutMs: 10_000 }).send(
      event(),
      abort.signal,
    );
    expect(outcome).toMatchObject({ ok: false, aborted: true, error: 'abandoned: shutting down' });
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe('retry arithmetic', () => {
  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('3')).toBe(3_000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });

  const policy = { initialDelayMs: 100, maxDelayMs: 1_000 };

  it('grows exponentially with at most +50 % jitter, capped', () => {
    expect([0, 1, 2, 3, 4].map((a) => backoffDelay(a, policy, 0, () => 0))).toEqual([
      100, 200, 400, 800, 1_000,
    ]);
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, policy, 0, () => 0.999))).toEqual([150, 300, 600, 1_000]);
  });

  it('never falls below the base, never shrinks, never exceeds the cap, whatever the jitter', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2_000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.array(fc.option(fc.integer({ min: 0, max: 120_000 })), { minLength: 30, maxLength: 30 }),
        (initialDelayMs, maxDelayMs, draws, retryAfters) => {
          const p = { initialDelayMs, maxDelayMs };
          const cap = Math.max(initialDelayMs, maxDelayMs);
          let previous = 0;
          draws.forEach((draw, attempt) => {
            const delay = retryDelay(attempt, p, previous, retryAfters[attempt] ?? undefined, () => draw);
            expect(delay).toBeGreaterThanOrEqual(initialDelayMs);
            expect(delay).toBeGreaterThanOrEqual(previous);
            expect(delay).toBeLessThanOrEqual(cap);
            previous = delay;
          });
        },
      ),
    );
  });

  it('takes Retry-After when longer than the backoff, capped', () => {
    expect(retryDelay(0, policy, 0, 700, () => 0)).toBe(700);
    expect(retryDelay(0, policy, 0, 50, () => 0)).toBe(100);
    expect(retryDelay(0, policy, 0, 90_000, () => 0)).toBe(1_000);
  });
});

describe('SinkSender with an OIDC token', () => {
  let sink: DevSink;
  let url: URL;
  sinkPerTest((s, u) => {
    sink = s;
    url = u;
  });

  it('asks for the header before every attempt, so a retry carries the refreshed token', async () => {
    let token = 'a.b.first';
    sink.behaviour = (n) => (n === 0 ? { status: 503 } : { status: 202 });
    const sender = new SinkSender(url, fast, { onRetry: () => (token = 'a.b.second') }, virtualTiming(), {
      authorize: () => ({ ok: true, header: `Bearer ${token}` }),
    });
    const outcome = await sender.send(event(), never);
    await sender.close();
    expect(outcome).toMatchObject({ ok: true, attempts: 2 });
    expect(sink.requests.map((r) => r.headers.authorization)).toEqual([
      'Bearer a.b.first',
      'Bearer a.b.second',
    ]);
  });

  it('sends nothing without a token: not attempted, not retried, reported as noToken', async () => {
    const sender = new SinkSender(url, fast, {}, virtualTiming(), {
      authorize: () => ({ ok: false, reason: 'no token yet for audience aud' }),
    });
    const outcome = await sender.send(event(), never);
    await sender.close();
    expect(outcome).toEqual({
      ok: false,
      error: 'no token yet for audience aud',
      attempts: 0,
      retryable: false,
      aborted: false,
      noToken: true,
    });
    expect(sink.requests).toHaveLength(0);
  });

  it('carries no Authorization header when the sink has no audience', async () => {
    const sender = new SinkSender(url, fast, {}, virtualTiming());
    await sender.send(event(), never);
    await sender.close();
    expect(sink.requests[0]!.headers.authorization).toBeUndefined();
  });
});
