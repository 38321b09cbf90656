// Token minting and refresh on virtual time (ManualClock): the TokenRequest answer is a recording
// fake of the API server here (the real one is in sink-tokens.cluster.test.ts); what is under test
// is when tokens are asked for and handed on: at once, again at 80 % of the lifetime, with backoff
// after a failure, never after the wish was withdrawn, and without the token in any log line.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { ManualClock } from '../../control/clock.js';
import { ApiError, type KubeClient } from '../runtime/index.js';
import { SinkTokens, type SinkTokenGrant } from './sink-tokens.js';

const T0 = Date.parse('2026-12-03T08:00:00Z');

/** Answers TokenRequests like the API server: a token valid for the requested seconds from "now". */
function tokenServer(clock: ManualClock) {
  const calls: Array<{ path: string; body: { spec: { audiences: string[] } } }> = [];
  let failNext = 0;
  const client: KubeClient = {
    request: async (method: string, path: string, init?: { body?: unknown }) => {
      expect(method).toBe('POST');
      calls.push({ path, body: init?.body as { spec: { audiences: string[] } } });
      if (failNext > 0) {
        failNext--;
        throw new ApiError(`POST ${path}: 404 serviceaccounts "x" not found`, 404, 'NotFound');
      }
      const seconds = (init?.body as { spec: { expirationSeconds: number } }).spec.expirationSeconds;
      return {
        status: {
          token: `h.c${calls.length}.sig${calls.length}-secretsecretsecret`,
          expirationTimestamp: new Date(T0 + clock.now() + seconds * 1000).toISOString(),
        },
      } as never;
    },
    stream: () => Promise.reject(new Error('no watches here')),
  };
  return { client, calls, failTimes: (n: number) => (failNext = n) };
}

function setup() {
  const clock = new ManualClock();
  const server = tokenServer(clock);
  const grants: Array<[string, SinkTokenGrant | undefined]> = [];
  const logs: string[] = [];
  const logger = pino(
    { level: 'trace' },
    new Writable({
      write(chunk: Buffer, _e, done) {
        logs.push(chunk.toString());
        done();
      },
    }),
  );
  const tokens = new SinkTokens({
    client: server.client,
    clock,
    now: () => new Date(T0 + clock.now()),
    onToken: (key, grant) => grants.push([key, grant]),
    logger,
    retry: { initialMs: 1_000, maxMs: 8_000 },
  });
  tokens.activate();
  return { clock, server, grants, logs, tokens };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('SinkTokens', () => {
  it('mints at once for the audience, then again at 80 % of the lifetime, and hands each token on', async () => {
    const { clock, server, grants, logs, tokens } = setup();
    tokens.want('ns/src', 'ns', 'samplesource-src-oidc-uid', 'https://sink/');
    await settle();
    expect(server.calls).toHaveLength(1);
    expect(server.calls[0]!.path).toBe(
      '/api/v1/namespaces/ns/serviceaccounts/samplesource-src-oidc-uid/token',
    );
    expect(server.calls[0]!.body).toEqual({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: ['https://sink/'], expirationSeconds: 3600 },
    });
    expect(grants).toHaveLength(1);
    expect(grants[0]![1]).toMatchObject({ audience: 'https://sink/', token: 'h.c1.sig1-secretsecretsecret' });
    expect(tokens.current('ns/src')?.token).toBe('h.c1.sig1-secretsecretsecret');

    // The same wish again (every reconcile) asks nothing.
    tokens.want('ns/src', 'ns', 'samplesource-src-oidc-uid', 'https://sink/');
    await settle();
    expect(server.calls).toHaveLength(1);

    // Not before 80 % of 3600 s = 2880 s ...
    await clock.advance(2_879_000);
    expect(server.calls).toHaveLength(1);
    // ... and right then.
    await clock.advance(1_000);
    expect(server.calls).toHaveLength(2);
    expect(grants.map(([, g]) => g?.token)).toEqual([
      'h.c1.sig1-secretsecretsecret',
      'h.c2.sig2-secretsecretsecret',
    ]);
    // The next refresh counts from the new token.
    await clock.advance(2_880_000);
    expect(server.calls).toHaveLength(3);
    expect(logs.join('')).not.toContain('secretsecret');
  });

  it('retries a failed mint with growing delays and keeps going once it succeeds', async () => {
    const { clock, server, grants, tokens } = setup();
    server.failTimes(3);
    tokens.want('ns/src', 'ns', 'sa', 'aud');
    await settle();
    expect(server.calls).toHaveLength(1);
    // 1 s, 2 s, 4 s (±20 % jitter): three failures, then a token.
    await clock.advance(1_250);
    expect(server.calls).toHaveLength(2);
    await clock.advance(2_500);
    expect(server.calls).toHaveLength(3);
    expect(grants).toHaveLength(0);
    await clock.advance(5_000);
    expect(server.calls).toHaveLength(4);
    expect(grants).toHaveLength(1);
  });

  it('mints at once for a new audience, and stops refreshing once forgotten', async () => {
    const { clock, server, grants, tokens } = setup();
    tokens.want('ns/src', 'ns', 'sa', 'one');
    await settle();
    tokens.want('ns/src', 'ns', 'sa', 'two');
    await settle();
    expect(server.calls.map((c) => c.body.spec.audiences[0])).toEqual(['one', 'two']);
    expect(grants.at(-1)![1]!.audience).toBe('two');
    tokens.forget('ns/src');
    expect(grants.at(-1)).toEqual(['ns/src', undefined]);
    expect(tokens.current('ns/src')).toBeUndefined();
    await clock.advance(10 * 3_600_000);
    expect(server.calls).toHaveLength(2);
    expect(clock.pending).toBe(0);
  });

  it('mints nothing outside a leadership term', async () => {
    const clock = new ManualClock();
    const server = tokenServer(clock);
    const tokens = new SinkTokens({
      client: server.client,
      clock,
      onToken: () => undefined,
      logger: pino({ level: 'silent' }),
    });
    tokens.want('ns/src', 'ns', 'sa', 'aud');
    await settle();
    expect(server.calls).toHaveLength(0);
  });
});
