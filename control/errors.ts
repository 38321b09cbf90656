// Typed errors of the control protocol: callers branch on the class (or `code`), never on text.

/** Base class of every error the control protocol raises; `code` is stable and machine-readable. */
export class ControlError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The peer received the command and refused it (an ack carrying an error). */
export class CommandRejectedError extends ControlError {
  constructor(
    code: string,
    message: string,
    /** Id of the rejected command. */
    readonly commandId = '',
  ) {
    super(code, message);
  }
}

/** No ack arrived within the timeout. The command stays queued and may still be delivered. */
export class TimeoutError extends ControlError {
  constructor(message: string) {
    super('DeadlineExceeded', message);
  }
}

/** The caller's AbortSignal fired; the command is dropped from the outbox (it may have been delivered). */
export class AbortError extends ControlError {
  constructor(message = 'aborted') {
    super('Aborted', message);
  }
}

/** The outbox is full and the sender asked to fail fast (`onFull: 'fail'`). */
export class OutboxFullError extends ControlError {
  constructor(limit: number) {
    super('ResourceExhausted', `outbox full: ${limit} unacked messages are queued (limits.maxOutbox)`);
  }
}

/** A message is larger than the negotiated frame limit; it was never sent. */
export class MessageTooLargeError extends ControlError {
  constructor(size: number, limit: number) {
    super('MessageTooLarge', `message of ${size} bytes exceeds limits.maxMessageBytes (${limit})`);
  }
}

/** The peer speaks another protocol version or lacks a required capability. */
export class ProtocolMismatchError extends ControlError {
  constructor(message: string) {
    super('FailedPrecondition', message);
  }
}

/** The client or server was closed; pending sends fail with this. */
export class ClosedError extends ControlError {
  constructor(message = 'closed') {
    super('Closed', message);
  }
}

/** Short text of any thrown value, for logs and error acks. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
