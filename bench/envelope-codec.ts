// Envelope encode/decode cost per frame: control/envelope-codec.ts (the library's codec) against
// protobuf.js (the library's previous path: direct protobuf.js encode, proto-loader decode + toObject),
// alternated in one process, median of 7 rounds. Prints figures; not a test.
//
//   node --experimental-transform-types --no-warnings --import ./adapter/ts-hooks.mjs bench/envelope-codec.ts
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { encodePayload } from '../control/codec.js';
import { controlService, protobufjsEnvelopeCodec } from '../control/wire.js';
import type { Envelope } from '../control/wire.js';

interface Codec {
  encode(envelope: Envelope): Buffer;
  decode(bytes: Buffer): unknown;
}

const envelopeType = protobuf
  .loadSync(fileURLToPath(new URL('../proto/control.proto', import.meta.url)))
  .lookupType('samplesource.control.v1.Envelope');
const before: Codec = {
  encode: (e) => envelopeType.encode(e).finish() as Buffer,
  decode: protobufjsEnvelopeCodec.decode,
};
const after: Codec = {
  encode: controlService.Connect.requestSerialize,
  decode: controlService.Connect.requestDeserialize,
};

const payload = encodePayload({ d: 'a'.repeat(56) });
const id = (n: number): string => `Zm9vYmFyYmF6cXV4.${n.toString(36)}`;
const command = (n: number) => ({ command: { id: id(n), opcode: 'echo', payload } });
const ack = (n: number) => ({ ack: { id: id(n), error: null } });
const one = { frames: [command(1)] };
const oneAck = { frames: [ack(1)] };
const many = { frames: Array.from({ length: 256 }, (_, n) => command(n)) };
const manyAcks = { frames: Array.from({ length: 256 }, (_, n) => ack(n)), acksReceived: 1000 };

function microsPerCall(f: () => unknown, n: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  return Number(process.hrtime.bigint() - start) / n / 1000;
}

const cases: Array<[string, Envelope, 'encode' | 'decode', number]> = [
  ['encode 1 command', one, 'encode', 100_000],
  ['decode 1 command', one, 'decode', 100_000],
  ['encode 1 ack', oneAck, 'encode', 100_000],
  ['decode 1 ack', oneAck, 'decode', 100_000],
  ['encode 256 commands, per frame', many, 'encode', 1_000],
  ['decode 256 commands, per frame', many, 'decode', 1_000],
  ['encode 256 acks, per frame', manyAcks, 'encode', 1_000],
  ['decode 256 acks, per frame', manyAcks, 'decode', 1_000],
];
const bytesOf = (e: Envelope): Buffer => protobufjsEnvelopeCodec.encode(e);
for (const [name, envelope, op, n] of cases) {
  const perFrame = envelope.frames!.length;
  const bytes = bytesOf(envelope);
  const run = (c: Codec) => (op === 'encode' ? () => c.encode(envelope) : () => c.decode(bytes));
  const [b, a] = [run(before), run(after)];
  microsPerCall(b, n); // warm-up
  microsPerCall(a, n);
  const tb: number[] = [];
  const ta: number[] = [];
  for (let k = 0; k < 7; k++) {
    tb.push(microsPerCall(b, n) / perFrame);
    ta.push(microsPerCall(a, n) / perFrame);
  }
  const med = (xs: number[]) => xs.sort((x, y) => x - y)[3]!;
  console.log(
    `${name.padEnd(32)} protobuf.js ${med(tb).toFixed(3)} us, envelope-codec ${med(ta).toFixed(3)} us, ${(med(tb) / med(ta)).toFixed(1)}x`,
  );
}
