// Every way one end of the control protocol refuses a stream, with the gRPC status it ends the
// call with. One catalogue for both ends, so the docs (docs/control-protocol.md) and the two
// implementations cannot drift apart. A refusal always ends the stream: never open and silent.
import * as grpc from '@grpc/grpc-js';

/** A reason to end a stream: the gRPC status code and the text sent as its details. */
export class Refusal {
  constructor(
    readonly code: grpc.status,
    readonly message: string,
  ) {}

  /** `CODE_NAME: message`, as logs and lastConnectionError show it. */
  toString(): string {
    return `${grpc.status[this.code]}: ${this.message}`;
  }
}

/** The catalogue. Each entry names the limit or rule broken, so the peer's author can act on it. */
export const refusals = {
  /** The client's certificate carries no allowed SAN URI. */
  identityNotAllowed: (identities: readonly string[]) =>
    new Refusal(grpc.status.PERMISSION_DENIED, `client identity [${identities.join(', ')}] is not allowed`),
  /** The first frame of a stream is not a valid hello (another kind, an empty session id...). */
  firstFrameNotHello: (reason: string) =>
    new Refusal(grpc.status.INVALID_ARGUMENT, `the first frame must be a valid hello (${reason})`),
  /** No hello within helloTimeoutMs of the stream opening. */
  noHelloInTime: (timeoutMs: number) =>
    new Refusal(grpc.status.DEADLINE_EXCEEDED, `no hello received in time (helloTimeoutMs=${timeoutMs})`),
  /** The peer's hello has another protocol_version or lacks a required capability (text from checkHello). */
  mismatch: (text: string) => new Refusal(grpc.status.FAILED_PRECONDITION, text),
  /** A hello after the stream opened. */
  secondHello: () => new Refusal(grpc.status.INVALID_ARGUMENT, 'a second hello on an open stream'),
  /** Bytes that do not decode as an Envelope. */
  undecodable: (reason: string) =>
    new Refusal(grpc.status.INVALID_ARGUMENT, `undecodable envelope: ${reason}`),
  /** A frame that fails validation and has no readable id to answer with an error ack. */
  frameWithoutId: (reason: string) =>
    new Refusal(
      grpc.status.INVALID_ARGUMENT,
      `malformed frame without a readable id (no ack possible): ${reason}`,
    ),
  /** The session id exists and was opened by another identity. */
  sessionOfAnotherIdentity: (sessionId: string) =>
    new Refusal(grpc.status.PERMISSION_DENIED, `session ${sessionId} belongs to another identity`),
  /** Every session slot is held by an attached stream. */
  tooManySessions: (max: number) =>
    new Refusal(grpc.status.RESOURCE_EXHAUSTED, `too many sessions (maxSessions=${max})`),
  /** The peer has more reliable messages unanswered than the in-flight window we advertised. */
  windowExceeded: (unanswered: number, limit: number) =>
    new Refusal(
      grpc.status.RESOURCE_EXHAUSTED,
      `in-flight window exceeded: ${unanswered} reliable messages unanswered, limit maxInFlight=${limit}`,
    ),
  /** The peer does not read what we write while sending more (only a window-breaking peer gets here). */
  notReading: (pending: number, limit: number) =>
    new Refusal(
      grpc.status.RESOURCE_EXHAUSTED,
      `peer is not reading its stream: ${pending} frames waiting to be written, limit ${limit} (4 x maxOutbox)`,
    ),
} as const;
