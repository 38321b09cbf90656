// Hand-written protobuf codec for the frames on the hot path (Command, Ack, AsyncCommandResult),
// with protobuf.js behind it for everything else. Issue 14 profiled the protocol at 8-10 us of CPU
// per acked command, of which encoding and decoding envelopes through protobuf.js (its writer's
// operation list, then proto-loader's decode + toObject copy) was the largest part we own
// (docs/decisions/0014-hand-written-envelope-codec.md).
//
// Exactness: the decoder returns what proto-loader's deserializer returns for the same bytes (plain
// objects, proto3 defaults, `kind` for the oneof, uint64 as a decimal string, bytes as Buffer views).
// Anything unusual (a Hello or Notification frame, a wire type that does not match the schema, a
// varint longer than its type, a length past the end of its message) is handed to protobuf.js, for
// the frame or the whole envelope, so odd input gets protobuf.js's own answer, including its errors.
// The encoder writes the same fields protobuf.js would (present = not null/undefined) and hands
// frames it does not know how to write to protobuf.js whole. envelope-codec.unit.test.ts checks
// both against protobuf.js on random envelopes and random bytes.
import type { Envelope, Envelope__Output } from '../proto/generated/samplesource/control/v1/Envelope.js';
import type { Frame, Frame__Output } from '../proto/generated/samplesource/control/v1/Frame.js';

/** The protobuf.js side: how to encode and decode one Frame, and how to decode an Envelope. */
export interface ReferenceCodec {
  encodeFrame(frame: Frame): Uint8Array;
  decodeFrame(bytes: Buffer): Frame__Output;
  decodeEnvelope(bytes: Buffer): Envelope__Output;
}

/** Thrown inside the fast decoder when protobuf.js must decide; never escapes (one instance: no stack per throw). */
const UNUSUAL = new Error('unusual protobuf input: decoded by protobuf.js');

const EMPTY = Buffer.alloc(0);

// ---- decoding -------------------------------------------------------------------------------

class Cursor {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
  ) {
    this.pos = start;
  }

  /** A varint of at most 32 bits (5 bytes); anything longer or cut short is unusual. */
  uint32(end: number): number {
    const buf = this.buf;
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.pos >= end) throw UNUSUAL;
      const b = buf[this.pos++]!;
      value = (value | ((b & 127) << shift)) >>> 0;
      if (b < 128) return shift === 28 && b > 15 ? unusual() : value;
    }
    return unusual();
  }

  /** A varint of at most 49 bits (7 bytes), exact as a double; longer ones go to protobuf.js. */
  uint53(end: number): number {
    const buf = this.buf;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= end) throw UNUSUAL;
      const b = buf[this.pos++]!;
      value += (b & 127) * scale;
      if (b < 128) return value;
      scale *= 128;
    }
    return unusual();
  }

  /** End of a length-delimited field that must fit inside `end`. */
  delimited(end: number): number {
    const len = this.uint32(end);
    const stop = this.pos + len;
    if (stop > end) throw UNUSUAL;
    return stop;
  }

  string(end: number): string {
    const stop = this.delimited(end);
    const s = stop === this.pos ? '' : (this.buf as unknown as RawUtf8).utf8Slice(this.pos, stop);
    this.pos = stop;
    return s;
  }

  bytes(end: number): Buffer {
    const stop = this.delimited(end);
    const b = this.buf.subarray(this.pos, stop);
    this.pos = stop;
    return b;
  }

  /** Skips an unknown field of wire type `wire` (groups are unusual). */
  skip(wire: number, end: number): void {
    if (wire === 0) this.uint53orSkip(end);
    else if (wire === 2) this.pos = this.delimited(end);
    else if (wire === 1 || wire === 5) {
      this.pos += wire === 1 ? 8 : 4;
      if (this.pos > end) throw UNUSUAL;
    } else throw UNUSUAL;
  }

  private uint53orSkip(end: number): void {
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) throw UNUSUAL;
      if (this.buf[this.pos++]! < 128) return;
    }
    throw UNUSUAL;
  }
}

function unusual(): never {
  throw UNUSUAL;
}

/** Buffer's unchecked UTF-8 methods (what protobuf.js's BufferReader and BufferWriter use; on every Node Buffer). */
interface RawUtf8 {
  utf8Slice(start: number, end: number): string;
  utf8Write(text: string, offset: number): number;
}

function decodeCommand(c: Cursor, end: number): Frame__Output['command'] {
  let id = '';
  let opcode = '';
  let payload: Buffer = EMPTY;
  while (c.pos < end) {
    const tag = c.uint32(end);
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        if (wire !== 2) throw UNUSUAL;
        id = c.string(end);
        break;
      case 2:
        if (wire !== 2) throw UNUSUAL;
        opcode = c.string(end);
        break;
      case 3:
        if (wire !== 2) throw UNUSUAL;
        payload = c.bytes(end);
        break;
      default:
        c.skip(wire, end);
    }
  }
  return { id, opcode, payload };
}

function decodeAck(c: Cursor, end: number): Frame__Output['ack'] {
  let id = '';
  let error: { code: string; message: string } | null = null;
  while (c.pos < end) {
    const tag = c.uint32(end);
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        if (wire !== 2) throw UNUSUAL;
        id = c.string(end);
        break;
      case 2: {
        if (wire !== 2) throw UNUSUAL;
        const stop = c.delimited(end);
        let code = '';
        let message = '';
        while (c.pos < stop) {
          const t = c.uint32(stop);
          const w = t & 7;
          if (t >>> 3 === 1 && w === 2) code = c.string(stop);
          else if (t >>> 3 === 2 && w === 2) message = c.string(stop);
          else if (t >>> 3 === 1 || t >>> 3 === 2) throw UNUSUAL;
          else c.skip(w, stop);
        }
        error = { code, message };
        break;
      }
      default:
        c.skip(wire, end);
    }
  }
  return { id, error };
}

function decodeResult(c: Cursor, end: number): Frame__Output['result'] {
  const r = {
    id: '',
    commandId: '',
    opcode: '',
    succeeded: false,
    reason: '',
    message: '',
    detail: EMPTY as Buffer,
  };
  while (c.pos < end) {
    const tag = c.uint32(end);
    const wire = tag & 7;
    const field = tag >>> 3;
    if (field >= 1 && field <= 7 && wire !== (field === 4 ? 0 : 2)) throw UNUSUAL;
    switch (field) {
      case 1:
        r.id = c.string(end);
        break;
      case 2:
        r.commandId = c.string(end);
        break;
      case 3:
        r.opcode = c.string(end);
        break;
      case 4:
        r.succeeded = c.uint32(end) !== 0;
        break;
      case 5:
        r.reason = c.string(end);
        break;
      case 6:
        r.message = c.string(end);
        break;
      case 7:
        r.detail = c.bytes(end);
        break;
      default:
        c.skip(wire, end);
    }
  }
  return r;
}

function decodeFrame(c: Cursor, end: number, reference: ReferenceCodec): Frame__Output {
  const start = c.pos;
  // Mirrors protobuf.js + toObject({oneofs: true}): every member present is kept, `kind` names the last in field order.
  let command: Frame__Output['command'] | undefined;
  let ack: Frame__Output['ack'] | undefined;
  let result: Frame__Output['result'] | undefined;
  while (c.pos < end) {
    const tag = c.uint32(end);
    const wire = tag & 7;
    const field = tag >>> 3;
    if (field === 1 || field === 5) {
      // Hello and Notification are rare (once per stream, best effort): protobuf.js decodes the whole frame.
      c.pos = end;
      try {
        return reference.decodeFrame(c.buf.subarray(start, end));
      } catch {
        throw UNUSUAL; // decoded again as a whole envelope, so the error reads as protobuf.js's own
      }
    }
    if (field >= 2 && field <= 4) {
      if (wire !== 2) throw UNUSUAL;
      const stop = c.delimited(end);
      if (field === 2) command = decodeCommand(c, stop);
      else if (field === 3) ack = decodeAck(c, stop);
      else result = decodeResult(c, stop);
      if (c.pos !== stop) throw UNUSUAL;
    } else c.skip(wire, end);
  }
  const frame: Frame__Output = {};
  if (command) {
    frame.command = command;
    frame.kind = 'command';
  }
  if (ack) {
    frame.ack = ack;
    frame.kind = 'ack';
  }
  if (result) {
    frame.result = result;
    frame.kind = 'result';
  }
  return frame;
}

/** Decodes an Envelope as proto-loader would (defaults, oneofs, longs as strings); throws as protobuf.js throws. */
export function decodeEnvelopeFast(bytes: Buffer, reference: ReferenceCodec): Envelope__Output {
  try {
    const c = new Cursor(bytes, 0);
    const end = bytes.length;
    const frames: Frame__Output[] = [];
    let acksReceived = 0;
    while (c.pos < end) {
      const tag = c.uint32(end);
      const wire = tag & 7;
      const field = tag >>> 3;
      if (field === 1) {
        if (wire !== 2) throw UNUSUAL;
        const stop = c.delimited(end);
        frames.push(decodeFrame(c, stop, reference));
        if (c.pos !== stop) throw UNUSUAL;
      } else if (field === 2) {
        if (wire !== 0) throw UNUSUAL;
        acksReceived = c.uint53(end);
      } else c.skip(wire, end);
    }
    return { frames, acksReceived: String(acksReceived) };
  } catch (err) {
    if (err !== UNUSUAL) throw err;
    return reference.decodeEnvelope(bytes);
  }
}

// ---- encoding -------------------------------------------------------------------------------

const present = (v: unknown): boolean => v !== null && v !== undefined;

function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 5;
  for (let v = Math.floor(n / 0x800000000); v > 0; v = Math.floor(v / 128)) size++;
  return size;
}

function stringSize(s: string): number {
  // Buffer.byteLength is native; for short ASCII strings a JS scan is cheaper and exact.
  if (s.length > 64) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

const fieldSize = (payload: number): number => varintSize(payload) + payload;

/** Sizes of one frame's message and its parts, computed once and used again while writing. */
interface Sized {
  /** Bytes of the Frame message (without its own tag and length). */
  frame: number;
  /** Bytes of the inner Command / Ack / Result (or of the whole frame's reference bytes). */
  inner: number;
  /** Ack only: bytes of the AckError message. */
  error: number;
  /** Frames protobuf.js writes: its bytes. */
  bytes: Uint8Array | null;
  /** The inner message's string byte lengths, in field order. */
  lengths: number[];
}

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

/** The frame's hot-path part, or null when protobuf.js should write the frame. */
function knownKind(frame: Frame): 'command' | 'ack' | 'result' | null {
  if (present(frame.hello) || present(frame.notification)) return null;
  const kinds =
    (present(frame.command) ? 1 : 0) + (present(frame.ack) ? 1 : 0) + (present(frame.result) ? 1 : 0);
  if (kinds !== 1) return null;
  if (present(frame.command)) {
    const c = frame.command!;
    return typeOk(c.id) && typeOk(c.opcode) && (!present(c.payload) || isBytes(c.payload)) ? 'command' : null;
  }
  if (present(frame.ack)) {
    const a = frame.ack!;
    const e = a.error;
    return typeOk(a.id) && (!present(e) || (typeOk(e!.code) && typeOk(e!.message))) ? 'ack' : null;
  }
  const r = frame.result!;
  return typeOk(r.id) &&
    typeOk(r.commandId) &&
    typeOk(r.opcode) &&
    typeOk(r.reason) &&
    typeOk(r.message) &&
    (!present(r.succeeded) || typeof r.succeeded === 'boolean') &&
    (!present(r.detail) || isBytes(r.detail))
    ? 'result'
    : null;
}

const typeOk = (v: unknown): boolean => !present(v) || typeof v === 'string';

function strField(s: string | null | undefined, lengths: number[]): number {
  if (!present(s)) return 0;
  const n = stringSize(s!);
  lengths.push(n);
  return 1 + fieldSize(n);
}

function bytesField(b: Uint8Array | string | null | undefined): number {
  if (!present(b)) return 0;
  return 1 + fieldSize((b as Uint8Array).length);
}

function size(frame: Frame, reference: ReferenceCodec): Sized {
  const kind = knownKind(frame);
  const lengths: number[] = [];
  if (kind === null) {
    const bytes = reference.encodeFrame(frame);
    return { frame: bytes.length, inner: bytes.length, error: 0, bytes, lengths };
  }
  let inner: number;
  let error = 0;
  if (kind === 'command') {
    const c = frame.command!;
    inner = strField(c.id, lengths) + strField(c.opcode, lengths) + bytesField(c.payload);
  } else if (kind === 'ack') {
    const a = frame.ack!;
    inner = strField(a.id, lengths);
    if (present(a.error)) {
      error = strField(a.error!.code, lengths) + strField(a.error!.message, lengths);
      inner += 1 + fieldSize(error);
    }
  } else {
    const r = frame.result!;
    inner =
      strField(r.id, lengths) +
      strField(r.commandId, lengths) +
      strField(r.opcode, lengths) +
      (present(r.succeeded) ? 2 : 0) +
      strField(r.reason, lengths) +
      strField(r.message, lengths) +
      bytesField(r.detail);
  }
  return { frame: 1 + fieldSize(inner), inner, error, bytes: null, lengths };
}

class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(n: number): void {
    const buf = this.buf;
    while (n >= 0x80) {
      buf[this.pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    buf[this.pos++] = n;
  }

  string(tag: number, s: string | null | undefined, lengths: number[], next: { i: number }): void {
    if (!present(s)) return;
    const n = lengths[next.i++]!;
    this.buf[this.pos++] = tag;
    this.varint(n);
    if (n === 0) return;
    if (n === s!.length && n <= 64) {
      // ASCII (checked while sizing): a byte per character, cheaper than a native call for short strings.
      const buf = this.buf;
      for (let i = 0; i < n; i++) buf[this.pos + i] = s!.charCodeAt(i);
    } else (this.buf as unknown as RawUtf8).utf8Write(s!, this.pos);
    this.pos += n;
  }

  bytes(tag: number, b: Uint8Array | string | null | undefined): void {
    if (!present(b)) return;
    const bytes = b as Uint8Array;
    this.buf[this.pos++] = tag;
    this.varint(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }
}

function writeFrame(w: Writer, frame: Frame, s: Sized): void {
  w.buf[w.pos++] = 0x0a; // Envelope.frames
  w.varint(s.frame);
  if (s.bytes) {
    w.buf.set(s.bytes, w.pos);
    w.pos += s.bytes.length;
    return;
  }
  const next = { i: 0 };
  if (present(frame.command)) {
    const c = frame.command!;
    w.buf[w.pos++] = 0x12; // Frame.command
    w.varint(s.inner);
    w.string(0x0a, c.id, s.lengths, next);
    w.string(0x12, c.opcode, s.lengths, next);
    w.bytes(0x1a, c.payload);
  } else if (present(frame.ack)) {
    const a = frame.ack!;
    w.buf[w.pos++] = 0x1a; // Frame.ack
    w.varint(s.inner);
    w.string(0x0a, a.id, s.lengths, next);
    if (present(a.error)) {
      w.buf[w.pos++] = 0x12;
      w.varint(s.error);
      w.string(0x0a, a.error!.code, s.lengths, next);
      w.string(0x12, a.error!.message, s.lengths, next);
    }
  } else {
    const r = frame.result!;
    w.buf[w.pos++] = 0x22; // Frame.result
    w.varint(s.inner);
    w.string(0x0a, r.id, s.lengths, next);
    w.string(0x12, r.commandId, s.lengths, next);
    w.string(0x1a, r.opcode, s.lengths, next);
    if (present(r.succeeded)) {
      w.buf[w.pos++] = 0x20;
      w.buf[w.pos++] = r.succeeded ? 1 : 0;
    }
    w.string(0x2a, r.reason, s.lengths, next);
    w.string(0x32, r.message, s.lengths, next);
    w.bytes(0x3a, r.detail);
  }
}

/** Encodes an Envelope built by this library; frames other than commands, acks and results go through protobuf.js. */
export function encodeEnvelopeFast(envelope: Envelope, reference: ReferenceCodec): Buffer {
  const frames = envelope.frames ?? [];
  const sized: Sized[] = new Array<Sized>(frames.length);
  let total = 0;
  for (let i = 0; i < frames.length; i++) {
    const s = size(frames[i]!, reference);
    sized[i] = s;
    total += 1 + fieldSize(s.frame);
  }
  const acks = Number(envelope.acksReceived ?? 0);
  if (!Number.isSafeInteger(acks) || acks < 0)
    throw new RangeError(
      `acksReceived must be a safe non-negative integer (got ${String(envelope.acksReceived)})`,
    );
  if (acks > 0) total += 1 + varintSize(acks);
  const w = new Writer(Buffer.allocUnsafe(total));
  for (let i = 0; i < frames.length; i++) writeFrame(w, frames[i]!, sized[i]!);
  if (acks > 0) {
    w.buf[w.pos++] = 0x10; // Envelope.acks_received
    w.varint(acks);
  }
  return w.buf;
}
