// The adapter's end of OIDC sink authentication: it holds the token the operator delivered
// (SetSinkToken), presents it on every request to the sink, and, for a sink with an audience, sends
// nothing unauthenticated: before the first token arrives (or after it expired) a heartbeat is
// dropped, counted with reason no_token and reported as the last send error. Dropping, not holding,
// keeps heartbeats what they are everywhere else (a tick too late is a tick lost, never a queue).
import type { Logger } from 'pino';
import type { z } from 'zod';
import { CommandRejectedError } from '../control/index.js';
import {
  OP_SET_SINK_TOKEN,
  REASON_AUDIENCE_MISMATCH,
  SetSinkTokenPayloadSchema,
  type SetSinkTokenPayload,
} from '../contract/sink-token.js';

/** What a request to the sink may carry: a header, or why it must not be sent. */
export type SinkAuthorization = { ok: true; header?: string } | { ok: false; reason: string };

/**
 * The token for the sink's audience, as the operator last delivered it. The audience can change
 * live (ApplyState.sink): a token minted for the previous one is then dropped, never presented.
 */
export class SinkTokenHolder {
  private token: string | undefined;
  private expiresAtMs = 0;
  private current: string | undefined;

  constructor(
    /** The audience this adapter starts with (K_AUDIENCE); undefined: the sink wants no token. */
    audience: string | undefined,
    /** Wall time in epoch ms (tokens expire by the wall clock). Default Date.now. */
    private readonly now: () => number = Date.now,
  ) {
    this.current = audience;
  }

  /** The audience tokens must be for; undefined when the sink wants none. */
  get audience(): string | undefined {
    return this.current;
  }

  /** Switches to another audience (or none); a token for the old one is forgotten. Returns whether it changed. */
  setAudience(audience: string | undefined): boolean {
    if (audience === this.current) return false;
    this.current = audience;
    this.token = undefined;
    this.expiresAtMs = 0;
    return true;
  }

  /** Stores a delivered token; refuses one minted for another audience (the token is not quoted). */
  set(payload: SetSinkTokenPayload): void {
    if (this.current === undefined) {
      throw new CommandRejectedError(
        REASON_AUDIENCE_MISMATCH,
        `token is for audience ${JSON.stringify(payload.audience)}, this adapter's sink has no audience`,
      );
    }
    if (payload.audience !== this.current) {
      throw new CommandRejectedError(
        REASON_AUDIENCE_MISMATCH,
        `token is for audience ${JSON.stringify(payload.audience)}, this adapter serves ${JSON.stringify(this.current)}`,
      );
    }
    const expiresAtMs = Date.parse(payload.expiresAt);
    // Resent commands may arrive out of order across reconnects: never replace a token by an older one.
    if (this.token !== undefined && expiresAtMs < this.expiresAtMs) return;
    this.token = payload.token;
    this.expiresAtMs = expiresAtMs;
  }

  /** When the token in force expires (epoch ms), or undefined before the first one. */
  get expiresAt(): number | undefined {
    return this.token === undefined ? undefined : this.expiresAtMs;
  }

  /** The Authorization header for the next request (none when the sink wants no token), or why there is none. */
  authorization(): SinkAuthorization {
    if (this.current === undefined) return { ok: true };
    if (this.token === undefined) return { ok: false, reason: `no token yet for audience ${this.current}` };
    if (this.now() >= this.expiresAtMs)
      return { ok: false, reason: `the token for audience ${this.current} expired` };
    return { ok: true, header: `Bearer ${this.token}` };
  }
}

/** The part of the control server SetSinkToken registers on (ControlServer.handle). */
export interface PlainCommandRegistry {
  handle<S extends z.ZodType>(
    opcode: string,
    schema: S,
    handler: (payload: z.infer<S>) => Promise<void> | void,
  ): unknown;
}

/**
 * Registers SetSinkToken: a plain command whose ack means stored. While the sink has no audience
 * the adapter refuses it (AudienceMismatch). Logs the audience and expiry, never the token.
 */
export function registerSinkTokenCommand(
  server: PlainCommandRegistry,
  holder: SinkTokenHolder | undefined,
  logger: Logger,
): void {
  server.handle(OP_SET_SINK_TOKEN, SetSinkTokenPayloadSchema, (payload) => {
    if (!holder) {
      throw new CommandRejectedError(
        REASON_AUDIENCE_MISMATCH,
        `token is for audience ${JSON.stringify(payload.audience)}, this adapter's sink has no audience`,
      );
    }
    const hadToken = holder.expiresAt !== undefined;
    holder.set(payload);
    logger.info(
      { audience: payload.audience, expiresAt: payload.expiresAt },
      `sink token ${hadToken ? 'refreshed' : 'received'} for audience ${payload.audience}, expires ${payload.expiresAt}`,
    );
  });
}
