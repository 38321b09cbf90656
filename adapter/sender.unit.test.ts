import { CloudEvent } from 'cloudevents';
import { DevSink } from './dev-sink.js';
import { SinkSender, backoffDelay, parseRetryAfter, type RetryPolicy } from './sender.js';

const fast: RetryPolicy = { retries: 3, initialDelayMs: 20, maxDelayMs: 2_000, attemptTimeoutMs: 1_000 };
const event = () =>
  new CloudEvent({ type: 'dev.knative.sample', source: '/test', data: { sequence: 1 }, team: 'blue' });
const never = new AbortController().signal;

describe('SinkSender against a real HTTP sink', () => {
  let sink: DevSink;
  let url: URL;
  beforeEach(async () => {
    sink = new DevSink();
    url = await sink.start();
  });
  afterEach(() => sink.close());

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

  it('retries 503 and 429 with backoff and counts the retries', async () => {
    sink.behaviour = (n) => (n === 0 ? { status: 503 } : n === 1 ? { status: 429 } : { status: 200 });
    const retries: string[] = [];
    const outcome = await new SinkSender(url, fast, {
      onRetry: (_a, _d, reason) => retries.push(reason),
    }).send(event(), never);
    expect(outcome).toMatchObject({ ok: true, status: 200, attempts: 3 });
    expect(retries).toEqual([expect.stringContaining('503'), expect.stringContaining('429')]);
    expect(sink.requests.map((r) => r.event?.id)).toEqual(Array(3).fill(sink.requests[0]!.event!.id)); // same event, same id
  });

  it('honours Retry-After', async () => {
    sink.behaviour = (n) => (n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 202 });
    const outcome = await new SinkSender(url, { ...fast, initialDelayMs: 1 }).send(event(), never);
    expect(outcome.ok).toBe(true);
    const gap = sink.requests[1]!.arrivedAt - sink.requests[0]!.arrivedAt;
    expect(gap).toBeGreaterThanOrEqual(950);
  });

  it('does not retry 4xx other than 429', async () => {
    sink.behaviour = () => ({ status: 400 });
    const outcome = await new SinkSender(url, fast).send(event(), never);
    expect(outcome).toMatchObject({ ok: false, status: 400, attempts: 1, retryable: false });
    expect(sink.requests).toHaveLength(1);
  });

  it('gives up after the retry bound', async () => {
    sink.behaviour = () => ({ status: 500 });
    const outcome = await new SinkSender(url, fast).send(event(), never);
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

  it('jitters within an exponentially growing, capped ceiling', () => {
    const p: RetryPolicy = { retries: 9, initialDelayMs: 100, maxDelayMs: 1_000, attemptTimeoutMs: 1 };
    expect([0, 1, 2, 3, 4].map((a) => backoffDelay(a, p, () => 1))).toEqual([100, 200, 400, 800, 1_000]);
    expect(backoffDelay(3, p, () => 0)).toBe(0);
  });
});
