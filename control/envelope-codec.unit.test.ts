// The hand-written envelope codec (envelope-codec.ts) against protobuf.js, the reference: the same
// decoded objects for every envelope either writes, the same answer (objects or error) for random
// and damaged bytes, and bytes protobuf.js reads back as what was written.
import fc from 'fast-check';
import { controlService, protobufjsEnvelopeCodec as reference } from './wire.js';
import type { Envelope, Frame } from './wire.js';

const fast = {
  encode: controlService.Connect.requestSerialize,
  decode: controlService.Connect.requestDeserialize,
};

const text = fc.string({ unit: 'grapheme', maxLength: 80 });
const ascii = fc.string({ maxLength: 300 });
const bytes = fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u));
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({ command: fc.record({ id: opt(ascii), opcode: opt(text), payload: opt(bytes) }) }),
  fc.record({
    ack: fc.record({
      id: opt(ascii),
      error: fc.option(fc.record({ code: opt(text), message: opt(text) }), { nil: null }),
    }),
  }),
  fc.record({
    result: fc.record({
      id: opt(ascii),
      commandId: opt(ascii),
      opcode: opt(text),
      succeeded: opt(fc.boolean()),
      reason: opt(text),
      message: opt(fc.string({ unit: 'grapheme', maxLength: 2000 })),
      detail: opt(bytes),
    }),
  }),
  fc.record({
    hello: fc.record({
      protocolVersion: fc.nat(),
      capabilities: fc.array(text, { maxLength: 4 }),
      sessionId: text,
      resumed: fc.boolean(),
      limits: opt(fc.record({ maxInFlight: fc.nat(), maxMessageBytes: fc.nat() })),
    }),
  }),
  fc.record({
    notification: fc.record({
      event: fc.record({
        id: text,
        source: text,
        specVersion: fc.constant('1.0'),
        type: text,
        textData: text,
        attributes: fc.dictionary(text, fc.record({ ceString: text }), { maxKeys: 3 }),
      }),
    }),
  }),
  fc.constant({}),
);
const envelopeArb: fc.Arbitrary<Envelope> = fc.record({
  frames: fc.array(frameArb, { maxLength: 12 }),
  acksReceived: fc.oneof(fc.constant(0), fc.nat(), fc.maxSafeNat()),
});

/** What decoding gives: the object, or the error message (both codecs must agree on either). */
function outcome(decode: (b: Buffer) => unknown, b: Buffer): unknown {
  try {
    const decoded = decode(b) as { undecodable?: string };
    // The library's deserializer turns a decode error into an UndecodableEnvelope carrying the message.
    return decoded.undecodable === undefined ? { ok: decoded } : { error: decoded.undecodable };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

it('decodes whatever it or protobuf.js encodes exactly as protobuf.js does', () => {
  fc.assert(
    fc.property(envelopeArb, (envelope) => {
      const expected = reference.decode(reference.encode(envelope));
      expect(fast.decode(reference.encode(envelope))).toEqual(expected);
      expect(reference.decode(fast.encode(envelope))).toEqual(expected);
      expect(fast.decode(fast.encode(envelope))).toEqual(expected);
    }),
    { numRuns: 500 },
  );
});

it('gives protobuf.js answers (objects or errors) for random and damaged bytes', () => {
  const damaged = fc
    .tuple(envelopeArb, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean())
    .map(([envelope, at, byte, cut]) => {
      const b = Buffer.from(reference.encode(envelope));
      if (b.length === 0) return b;
      if (cut) return b.subarray(0, at % b.length);
      b[at % b.length] = byte;
      return b;
    });
  fc.assert(
    fc.property(
      fc.oneof(
        damaged,
        fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
      ),
      (b) => {
        expect(outcome(fast.decode, b)).toEqual(outcome(reference.decode, b));
      },
    ),
    { numRuns: 2000 },
  );
});

it('writes non-ASCII text as UTF-8 and keeps byte fields byte for byte', () => {
  const envelope: Envelope = {
    frames: [
      { command: { id: 'ü-1', opcode: 'änderung', payload: Buffer.from([0, 255, 1]) } },
      { ack: { id: 'x', error: { code: 'HandlerError', message: '✖ '.repeat(100) } } },
    ],
    acksReceived: 2 ** 40,
  };
  const decoded = reference.decode(fast.encode(envelope));
  expect(decoded.frames[0]!.command).toEqual({
    id: 'ü-1',
    opcode: 'änderung',
    payload: Buffer.from([0, 255, 1]),
  });
  expect(decoded.frames[1]!.ack!.error!.message).toBe('✖ '.repeat(100));
  expect(decoded.acksReceived).toBe(String(2 ** 40));
});
