// The SetSinkToken payload: only a bounded compact JWS with an audience and an RFC 3339 expiry
// passes, and no error message (nor any redacted form) ever quotes the token.
import { z } from 'zod';
import { DestinationSchema } from './knative.js';
import {
  MAX_SINK_TOKEN_LENGTH,
  REDACTED,
  SetSinkTokenPayloadSchema,
  redactSinkToken,
  redactTokenIn,
} from './sink-token.js';

const b64url = (n: number, c = 'a') => c.repeat(n);
const jws = `${b64url(36, 'h')}.${b64url(200, 'p')}.${b64url(342, 's')}`;
const valid = { audience: 'https://sink.example/', token: jws, expiresAt: '2026-12-03T09:00:00Z' };

describe('SetSinkToken payload', () => {
  it('accepts a compact JWS with an audience and an RFC 3339 expiry', () => {
    expect(SetSinkTokenPayloadSchema.parse(valid)).toEqual(valid);
    expect(
      SetSinkTokenPayloadSchema.parse({ ...valid, expiresAt: '2026-12-03T10:00:00.123+01:00' }),
    ).toBeTruthy();
  });

  it.each([
    ['two segments', { token: 'aaaa.bbbb' }, /compact JWS/],
    ['a space inside', { token: 'aaaa.bb bb.cccc' }, /compact JWS/],
    ['padding', { token: 'aaaa.bbbb.cc==' }, /compact JWS/],
    ['an empty token', { token: '' }, /must not be empty/],
    ['an oversized token', { token: `a.${'b'.repeat(MAX_SINK_TOKEN_LENGTH)}.c` }, /at most 16384/],
    ['no audience', { audience: '' }, /audience must not be empty/],
    ['an audience with a newline', { audience: 'a\nb' }, /whitespace or control/],
    ['a date without offset', { expiresAt: '2026-12-03T09:00:00' }, /RFC 3339/],
  ])('refuses %s with a message that does not quote the token', (_what, change, message) => {
    const bad = { ...valid, ...change };
    const result = SetSinkTokenPayloadSchema.safeParse(bad);
    expect(result.success).toBe(false);
    const text = z.prettifyError(result.error!);
    expect(text).toMatch(message);
    // The router answers with exactly this text: it must hold no part of the token.
    if (bad.token.length > 8) expect(text).not.toContain(bad.token.slice(2, -2));
    expect(text).not.toContain(jws);
  });
});

describe('redaction', () => {
  it('replaces the token in a payload and in free text, the signature alone included', () => {
    expect(redactSinkToken(valid)).toEqual({ ...valid, token: REDACTED });
    expect(JSON.stringify(redactSinkToken(valid))).not.toContain(jws);
    const signature = jws.split('.')[2]!;
    expect(redactTokenIn(`header Bearer ${jws} and again ${jws}`, jws)).toBe(
      `header Bearer ${REDACTED} and again ${REDACTED}`,
    );
    expect(redactTokenIn(`cut: ...${signature}`, jws)).toBe(`cut: ...${REDACTED}`);
    expect(redactTokenIn('nothing here', undefined)).toBe('nothing here');
  });
});

describe('Destination.audience', () => {
  it('is optional, non-empty and free of whitespace', () => {
    expect(DestinationSchema.parse({ uri: 'http://sink/', audience: 'my-aud' }).audience).toBe('my-aud');
    expect(DestinationSchema.safeParse({ uri: 'http://sink/', audience: '' }).success).toBe(false);
    expect(DestinationSchema.safeParse({ uri: 'http://sink/', audience: 'two words' }).success).toBe(false);
    expect(DestinationSchema.safeParse({ uri: 'http://sink/', audience: 'x'.repeat(1025) }).success).toBe(
      false,
    );
  });
});
