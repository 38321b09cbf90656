// The CloudEvents HTTP binding's header-value encoding (http-protocol-binding.md §3.1.3.2):
// a binary-mode attribute value travels UTF-8 encoded, with every byte of a space, a double
// quote, a percent sign or a character outside printable ASCII (U+0021–U+007E) percent-encoded;
// receivers undo it. The cloudevents SDK (v10) does neither, so `two words ü 100%` would be
// refused by fetch (non-ASCII header) or arrive mangled; see docs/decisions/0008.

const HEX = '0123456789ABCDEF';

function passesVerbatim(code: number): boolean {
  // Printable ASCII except '"' (0x22) and '%' (0x25).
  return code >= 0x21 && code <= 0x7e && code !== 0x22 && code !== 0x25;
}

/** Percent-encodes one header value as the CloudEvents HTTP binding requires (UTF-8, uppercase hex). */
export function encodeCeHeaderValue(value: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(value)) {
    out += passesVerbatim(byte) ? String.fromCharCode(byte) : `%${HEX[byte >> 4]}${HEX[byte & 0xf]}`;
  }
  return out;
}

/**
 * Decodes one header value as a conformant receiver does: every `%XX` becomes its byte, the
 * bytes are read as UTF-8. A `%` not followed by two hex digits is kept as written (the binding
 * asks receivers to be lenient there); invalid UTF-8 throws, since the value cannot be recovered.
 */
export function decodeCeHeaderValue(value: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const hex = value.slice(i + 1, i + 3);
    if (value[i] === '%' && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      // Header values reach Node as latin1 strings: one char per byte.
      bytes.push(value.charCodeAt(i) & 0xff);
    }
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
}

/** True for the headers that carry CloudEvent attributes in binary mode (`ce-*`). */
export function isCeAttributeHeader(name: string): boolean {
  return name.toLowerCase().startsWith('ce-');
}

/** Returns `headers` with every `ce-*` value percent-encoded; other headers (content-type) untouched. */
export function encodeCeHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = isCeAttributeHeader(name) ? encodeCeHeaderValue(value) : value;
  }
  return out;
}
