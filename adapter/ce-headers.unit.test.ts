import fc from 'fast-check';
import { decodeCeHeaderValue, encodeCeHeaderValue, encodeCeHeaders } from './ce-headers.js';

describe('CloudEvents HTTP binding header-value encoding (§3.1.3.2)', () => {
  it("encodes the spec's own example exactly", () => {
    // http-protocol-binding.md: "Euro € 😀" is sent as "Euro%20%E2%82%AC%20%F0%9F%98%80".
    expect(encodeCeHeaderValue('Euro € 😀')).toBe('Euro%20%E2%82%AC%20%F0%9F%98%80');
    expect(decodeCeHeaderValue('Euro%20%E2%82%AC%20%F0%9F%98%80')).toBe('Euro € 😀');
  });

  it('encodes space, double quote, percent, non-ASCII and control characters, nothing else', () => {
    expect(encodeCeHeaderValue('two words ü 100%')).toBe('two%20words%20%C3%BC%20100%25');
    expect(encodeCeHeaderValue('say "hi"\t\r\n\u007f')).toBe('say%20%22hi%22%09%0D%0A%7F');
    const printable = "!#$&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~";
    expect(encodeCeHeaderValue(printable)).toBe(printable);
  });

  it('decodes leniently: lowercase hex, and a % that starts no escape stays', () => {
    expect(decodeCeHeaderValue('a%c3%bcb')).toBe('aüb');
    expect(decodeCeHeaderValue('100%')).toBe('100%');
    expect(decodeCeHeaderValue('%zz')).toBe('%zz');
  });

  it('refuses an escape sequence that is not UTF-8', () => {
    expect(() => decodeCeHeaderValue('%FF%FE')).toThrow();
  });

  it('round-trips every string, and the encoding is always a valid HTTP header value', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        const encoded = encodeCeHeaderValue(text);
        expect(encoded).toMatch(/^[\x21-\x7e]*$/);
        expect(encoded).not.toMatch(/"/);
        expect(decodeCeHeaderValue(encoded)).toBe(text);
      }),
    );
  });

  it('encodes ce-* headers only', () => {
    expect(encodeCeHeaders({ 'ce-team': 'a b', 'content-type': 'application/json; charset=utf-8' })).toEqual({
      'ce-team': 'a%20b',
      'content-type': 'application/json; charset=utf-8',
    });
  });
});
