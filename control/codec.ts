// Payload and frame codecs both ends share: exact JSON (integers up to int64 survive, as bigint
// beyond 2^53), and the frames that carry async results and notifications, built and decoded in
// one place so the two ends cannot disagree.
import { randomUUID } from 'node:crypto';
import type { AsyncOutcome } from './async-command.js';
import { errorMessage } from './errors.js';
import type { Frame, NotificationValue, ResultValue } from './wire.js';

/** Largest and smallest int64, the range of an exact integer on the wire. */
export const INT64_MAX = 2n ** 63n - 1n;
export const INT64_MIN = -(2n ** 63n);

// Only text with a run of 16+ digits can hold an integer beyond 2^53: the plain (fast) parse otherwise.
const LONG_DIGITS = /\d{16}/;

/**
 * Parses JSON keeping integers exact: a safe integer stays a number, a larger one within int64 becomes a bigint
 * (so `number | bigint` values compare correctly with `<`). Throws SyntaxError like JSON.parse.
 */
export function parseJsonExact(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) => {
    if (typeof value !== 'number' || Number.isSafeInteger(value)) return value;
    const source = context?.source;
    if (source === undefined || !/^-?\d+$/.test(source)) return value;
    const big = BigInt(source);
    return big >= INT64_MIN && big <= INT64_MAX ? big : value;
  });
}

// JSON.rawJSON (Node 21+) is not in TypeScript's lib yet.
const rawJSON = (JSON as unknown as { rawJSON: (text: string) => unknown }).rawJSON;

/** JSON.stringify that writes a bigint as an exact JSON integer (the inverse of parseJsonExact). */
export function stringifyJsonExact(value: unknown): string {
  // Fast path: without a replacer JSON.stringify is several times faster, and it throws on the first bigint.
  try {
    const plain: string | undefined = JSON.stringify(value ?? null);
    return plain ?? 'null';
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
  }
  const text = JSON.stringify(value ?? null, (_key, v: unknown) =>
    typeof v === 'bigint' ? rawJSON(v.toString()) : v,
  ) as string | undefined;
  // JSON.stringify(undefined-like) cannot happen after ?? null; functions and symbols at the top become null.
  return text ?? 'null';
}

/** UTF-8 JSON bytes of a value, exactly (bigints as integers). */
export function encodePayload(value: unknown): Buffer {
  return Buffer.from(stringifyJsonExact(value));
}

/** The value of UTF-8 JSON bytes; empty bytes are null. Throws with a reason when the bytes are not JSON. */
export function decodePayload(bytes: Uint8Array): unknown {
  if (bytes.length === 0) return null;
  // Decoded payloads are already Buffers (views into the message): no second view per command.
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return parseJsonExact(buffer.toString('utf8'));
}

/** An async command's result as the control plane sees it. */
export interface CommandResult {
  commandId: string;
  opcode: string;
  succeeded: boolean;
  reason?: string;
  message?: string;
  detail?: unknown;
}

/** A notification from the server (decoded from its CloudEvent). */
export interface Notification {
  type: string;
  data: unknown;
  time: Date;
  id: string;
  source: string;
}

/** The reliable frame carrying an async command's outcome; its id is `<command id>#result`. */
export function resultFrame(
  commandId: string,
  opcode: string,
  outcome: AsyncOutcome,
): { id: string; frame: Frame } {
  const id = `${commandId}#result`;
  const detail = outcome.detail === undefined ? Buffer.alloc(0) : encodePayload(outcome.detail);
  return {
    id,
    frame: {
      result: {
        id,
        commandId,
        opcode,
        succeeded: outcome.succeeded,
        reason: outcome.reason,
        message: outcome.message,
        detail,
      },
    },
  };
}

/** Decodes a validated result frame; a detail that is not JSON is an error text (for an InvalidArgument ack). */
export function decodeResult(
  r: ResultValue,
): { ok: true; result: CommandResult } | { ok: false; error: string } {
  let detail: unknown;
  if (r.detail.length > 0) {
    try {
      detail = decodePayload(r.detail);
    } catch (err) {
      return { ok: false, error: `result detail is not JSON: ${errorMessage(err)}` };
    }
  }
  const result: CommandResult = { commandId: r.commandId, opcode: r.opcode, succeeded: r.succeeded };
  if (r.reason) result.reason = r.reason;
  if (r.message) result.message = r.message;
  if (detail !== undefined) result.detail = detail;
  return { ok: true, result };
}

/** A best-effort notification frame: a CloudEvent with JSON text data and a time attribute. */
export function notificationFrame(source: string, type: string, data: unknown, now = Date.now()): Frame {
  return {
    notification: {
      event: {
        id: randomUUID(),
        source,
        specVersion: '1.0',
        type,
        attributes: {
          time: {
            ceTimestamp: { seconds: String(Math.floor(now / 1000)), nanos: (now % 1000) * 1_000_000 },
          },
          datacontenttype: { ceString: 'application/json' },
        },
        textData: stringifyJsonExact(data),
      },
    },
  };
}

/** Decodes a validated notification; text that is not JSON is passed on as a string. */
export function decodeNotification(n: NotificationValue): Notification {
  const e = n.event;
  let data: unknown = null;
  if (e.textData !== undefined) {
    try {
      data = parseJsonExact(e.textData);
    } catch {
      data = e.textData;
    }
  }
  const ts = e.attributes['time']?.ceTimestamp;
  const time = ts ? new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6)) : new Date();
  return { type: e.type, data, time, id: e.id, source: e.source };
}
