// The wire contract at runtime: loads proto/control.proto with @grpc/proto-loader and validates
// every decoded frame with zod, so nothing from the network reaches the protocol logic unchecked.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { z } from 'zod';
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

const packageDefinition = protoLoader.loadSync(protoPath(), {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as ProtoGrpcType;

/** The gRPC service definition (one bidi call, Connect). */
export const controlService = loaded.samplesource.control.v1.Control.service;
/** The generated client constructor for the Control service. */
export const ControlGrpcClient = loaded.samplesource.control.v1.Control;

const bytes = z.instanceof(Uint8Array);
const id = z.string().min(1).max(256);

/** An ack's error: a code and a message. */
export const ackErrorSchema = z.object({ code: z.string().min(1).max(128), message: z.string().max(8192) });
export type AckErrorValue = z.infer<typeof ackErrorSchema>;

export const helloSchema = z.object({
  protocolVersion: z.number().int().nonnegative(),
  capabilities: z.array(z.string().max(128)).max(64),
  requiredCapabilities: z.array(z.string().max(128)).max(64),
  identity: z.string().max(2048),
  sessionId: z.string().min(1).max(128),
  resumed: z.boolean(),
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

/** Validates one decoded frame; a failure carries a short reason for the log and the error ack. */
export function parseFrame(
  raw: unknown,
): { ok: true; frame: FrameValue } | { ok: false; reason: string; id?: string } {
  const result = frameSchema.safeParse(raw);
  if (result.success) return { ok: true, frame: result.data };
  // Keep an id when one is readable, so a malformed command can still get an error ack.
  const body = raw as { command?: { id?: unknown } } | null;
  const maybeId =
    typeof body?.command?.id === 'string' && body.command.id.length > 0 ? body.command.id : undefined;
  return {
    ok: false,
    reason: z.prettifyError(result.error).slice(0, 1024),
    ...(maybeId ? { id: maybeId } : {}),
  };
}

/** Builds the hello frame this side sends. */
export function helloFrame(h: Omit<HelloValue, 'protocolVersion'> & { protocolVersion?: number }): Frame {
  return { hello: { ...h, protocolVersion: h.protocolVersion ?? PROTOCOL_VERSION } };
}

/** Checks a peer's hello against ours; returns the refusal text, or null when compatible. */
export function checkHello(
  peer: HelloValue,
  ourCapabilities: readonly string[],
  ourRequired: readonly string[],
): string | null {
  if (peer.protocolVersion !== PROTOCOL_VERSION) {
    return `protocol version mismatch: peer speaks ${peer.protocolVersion}, we speak ${PROTOCOL_VERSION}`;
  }
  const missingOnPeer = ourRequired.filter((c) => !peer.capabilities.includes(c));
  if (missingOnPeer.length > 0)
    return `capability mismatch: peer lacks required capabilities ${missingOnPeer.join(', ')}`;
  const missingHere = peer.requiredCapabilities.filter((c) => !ourCapabilities.includes(c));
  if (missingHere.length > 0)
    return `capability mismatch: peer requires capabilities we lack: ${missingHere.join(', ')}`;
  return null;
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

/** Encodes an envelope exactly as grpc-js does on the wire (for raw test clients and the benchmark). */
export function encodeEnvelope(envelope: Envelope): Buffer {
  return controlService.Connect.requestSerialize(envelope);
}

/** Decodes an envelope's bytes (no validation: run frames through parseFrame). */
export function decodeEnvelope(bytes: Buffer): Envelope__Output {
  return controlService.Connect.responseDeserialize(bytes);
}
