// The wire contract at runtime: loads proto/control.proto with @grpc/proto-loader and validates
// every decoded frame with zod, so nothing from the network reaches the protocol logic unchecked.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { z } from 'zod';
import { decodeEnvelopeFast, encodeEnvelopeFast } from './envelope-codec.js';
import type { ReferenceCodec } from './envelope-codec.js';
import type { ProtoGrpcType } from '../proto/generated/control.js';
import type { Envelope } from '../proto/generated/samplesource/control/v1/Envelope.js';
import type { Envelope__Output } from '../proto/generated/samplesource/control/v1/Envelope.js';
import type { Frame } from '../proto/generated/samplesource/control/v1/Frame.js';
import type { Frame__Output } from '../proto/generated/samplesource/control/v1/Frame.js';

export type { Envelope, Envelope__Output, Frame, Frame__Output };

/** The only wire version this library speaks; a hello with another is refused. */
export const PROTOCOL_VERSION = 1;

/** What this implementation offers in its hello. */
export const CAPABILITIES: readonly string[] = [
  'acks',
  'resend',
  'dedup',
  'async-results',
  'notifications',
  'batching',
  'limits',
  'ack-receipts',
];

/** Fully qualified gRPC path of the one call, for tools and raw test clients. */
export const CONNECT_PATH = '/samplesource.control.v1.Control/Connect';

function protoPath(): string {
  // Beside the sources (proto/ next to control/) or, once compiled, one level further up.
  for (const rel of ['../proto/control.proto', '../../proto/control.proto']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('proto/control.proto not found next to the control library');
}

// How decoded messages become plain objects (proto-loader's options; the fast decoder returns the same shape).
const LOADER_OPTIONS = { longs: String, enums: String, defaults: true, oneofs: true };
const packageDefinition = protoLoader.loadSync(protoPath(), LOADER_OPTIONS);
const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as ProtoGrpcType;

const generated = loaded.samplesource.control.v1.Control.service;

/** An envelope whose bytes did not decode: carries the reason instead of frames. */
export interface UndecodableEnvelope extends Envelope__Output {
  undecodable: string;
}

/** True for an envelope whose bytes did not decode (the stream is then refused with INVALID_ARGUMENT). */
export function isUndecodable(envelope: Envelope__Output): envelope is UndecodableEnvelope {
  return typeof (envelope as Partial<UndecodableEnvelope>).undecodable === 'string';
}

function tolerant(decode: (bytes: Buffer) => Envelope__Output): (bytes: Buffer) => Envelope__Output {
  // grpc-js would end the call with INTERNAL on a decode error; we answer INVALID_ARGUMENT, naming the cause.
  return (bytes) => {
    try {
      return decode(bytes);
    } catch (err) {
      const undecodable: UndecodableEnvelope = {
        frames: [],
        acksReceived: '0',
        undecodable: err instanceof Error ? err.message : String(err),
      };
      return undecodable;
    }
  };
}

// The same schema as protobufjs types, behind the hand-written codec of the hot frames (envelope-codec.ts): it
// writes Hello and Notification frames and decides on anything unusual. proto-loader's serializer would run
// fromObject (a full copy of the envelope) first; our envelopes are built by this library with the right types.
const frameType = protobuf.loadSync(protoPath()).lookupType('samplesource.control.v1.Frame');
const reference: ReferenceCodec = {
  encodeFrame: (frame) => frameType.encode(frame).finish(),
  decodeFrame: (bytes) => frameType.toObject(frameType.decode(bytes), LOADER_OPTIONS),
  decodeEnvelope: (bytes) => generated.Connect.requestDeserialize(bytes),
};
const encode = (envelope: Envelope): Buffer => encodeEnvelopeFast(envelope, reference);
const decode = (bytes: Buffer): Envelope__Output => decodeEnvelopeFast(bytes, reference);

/** The gRPC service definition (one bidi call, Connect); undecodable bytes become an UndecodableEnvelope. */
export const controlService: typeof generated = {
  ...generated,
  Connect: {
    ...generated.Connect,
    requestSerialize: encode,
    responseSerialize: encode,
    requestDeserialize: tolerant(decode),
    responseDeserialize: tolerant(decode),
  },
};
/** The client constructor for the Control service (same tolerant decoding). */
export const ControlGrpcClient = grpc.makeClientConstructor(
  controlService,
  'Control',
) as unknown as typeof loaded.samplesource.control.v1.Control;

const bytes = z.instanceof(Uint8Array);
const id = z.string().min(1, 'empty id').max(256);

/** An ack's error: a code and a message. */
export const ackErrorSchema = z.object({ code: z.string().min(1).max(128), message: z.string().max(8192) });
export type AckErrorValue = z.infer<typeof ackErrorSchema>;

const count = z.number().int().nonnegative();
/** Advertised limits; absent or 0 fields mean the protocol defaults (handshake.ts). */
export const helloLimitsSchema = z.object({
  maxInFlight: count,
  maxOutbox: count,
  dedupWindow: count,
  maxMessageBytes: count,
});

export const helloSchema = z.object({
  protocolVersion: z.number().int().nonnegative(),
  capabilities: z.array(z.string().max(128)).max(64),
  requiredCapabilities: z.array(z.string().max(128)).max(64),
  identity: z.string().max(2048),
  sessionId: z.string().min(1, 'empty session id').max(128),
  resumed: z.boolean(),
  limits: helloLimitsSchema.nullable().optional(),
});
export type HelloValue = z.infer<typeof helloSchema>;

export const commandSchema = z.object({ id, opcode: z.string().min(1).max(256), payload: bytes });
export type CommandValue = z.infer<typeof commandSchema>;

export const ackSchema = z.object({ id, error: ackErrorSchema.nullable() });
export type AckValue = z.infer<typeof ackSchema>;

export const resultSchema = z.object({
  id,
  commandId: id,
  opcode: z.string().max(256),
  succeeded: z.boolean(),
  reason: z.string().max(256),
  message: z.string().max(8192),
  detail: bytes,
});
export type ResultValue = z.infer<typeof resultSchema>;

const timestampSchema = z.object({ seconds: z.string().regex(/^-?\d+$/), nanos: z.number().int() });

/** The subset of io.cloudevents.v1.CloudEvent we read: JSON text data, optional time attribute. */
export const cloudEventSchema = z.object({
  id: z.string().min(1),
  source: z.string().min(1),
  specVersion: z.literal('1.0'),
  type: z.string().min(1),
  attributes: z.record(
    z.string(),
    z.object({
      attr: z.string().optional(),
      ceTimestamp: timestampSchema.nullable().optional(),
      ceString: z.string().optional(),
    }),
  ),
  textData: z.string().optional(),
});
export const notificationSchema = z.object({ event: cloudEventSchema });
export type NotificationValue = z.infer<typeof notificationSchema>;

/** A validated frame: exactly one kind with its body. */
export const frameSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('hello'), hello: helloSchema }),
  z.object({ kind: z.literal('command'), command: commandSchema }),
  z.object({ kind: z.literal('ack'), ack: ackSchema }),
  z.object({ kind: z.literal('result'), result: resultSchema }),
  z.object({ kind: z.literal('notification'), notification: notificationSchema }),
]);
export type FrameValue = z.infer<typeof frameSchema>;

/** Validates one decoded frame; a failure carries a short reason, the frame's kind and, when readable, its id. */
export function parseFrame(
  raw: unknown,
): { ok: true; frame: FrameValue } | { ok: false; reason: string; kind?: string; id?: string } {
  const result = frameSchema.safeParse(raw);
  if (result.success) return { ok: true, frame: result.data };
  // Keep an id when one is readable, so a malformed command or result can still get an error ack.
  const body = raw as {
    kind?: unknown;
    command?: { id?: unknown } | null;
    result?: { id?: unknown } | null;
  } | null;
  const kind = typeof body?.kind === 'string' ? body.kind : undefined;
  const rawId = kind === 'result' ? body?.result?.id : body?.command?.id;
  const maybeId = typeof rawId === 'string' && rawId.length > 0 ? rawId : undefined;
  return {
    ok: false,
    reason: z.prettifyError(result.error).slice(0, 1024),
    ...(kind ? { kind } : {}),
    ...(maybeId ? { id: maybeId } : {}),
  };
}

/** Rough encoded size of a frame, for batching under the message size limit (overestimates slightly). */
export function frameSize(frame: Frame): number {
  const c = frame.command;
  if (c)
    return (
      32 + (c.id?.length ?? 0) + (c.opcode?.length ?? 0) + (c.payload ? (c.payload as Uint8Array).length : 0)
    );
  const r = frame.result;
  if (r)
    return (
      64 +
      (r.id?.length ?? 0) * 2 +
      (r.message?.length ?? 0) * 3 +
      (r.detail ? (r.detail as Uint8Array).length : 0)
    );
  const a = frame.ack;
  if (a)
    return (
      16 +
      (a.id?.length ?? 0) +
      (a.error ? 16 + (a.error.code?.length ?? 0) + (a.error.message?.length ?? 0) * 3 : 0)
    );
  const n = frame.notification;
  if (n) return 128 + (n.event?.textData?.length ?? 0) * 3 + (n.event?.type?.length ?? 0);
  return 512;
}

/**
 * Encodes an envelope for raw test clients and the benchmarks: the same bytes as the library writes, but through
 * proto-loader's fromObject first, so hand-made frames with loosely typed fields encode as protobuf.js coerces them.
 */
export function encodeEnvelope(envelope: Envelope): Buffer {
  return generated.Connect.requestSerialize(envelope);
}

/** The protobuf.js path (proto-loader's serializer and deserializer), for tests that compare envelope-codec.ts with it. */
export const protobufjsEnvelopeCodec = {
  encode: (envelope: Envelope): Buffer => generated.Connect.requestSerialize(envelope),
  decode: (bytes: Buffer): Envelope__Output => generated.Connect.requestDeserialize(bytes),
};

/** Decodes an envelope's bytes (no validation: run frames through parseFrame). */
export function decodeEnvelope(bytes: Buffer): Envelope__Output {
  return controlService.Connect.responseDeserialize(bytes);
}
