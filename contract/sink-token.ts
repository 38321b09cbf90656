// OIDC sink authentication in the operator-adapter contract: the SetSinkToken command that hands
// an adapter the ServiceAccount token it presents to an OIDC sink, and the one redaction rule both
// binaries follow so the token never reaches a log line, an ack, an async result or an error.
import { z } from 'zod';
import { AudienceSchema } from './knative.js';

/**
 * Opcode: the token every request to the sink carries as `Authorization: Bearer`. A plain
 * reliable command (acked once stored, resent across reconnects until acked). Payload
 * {@link SetSinkTokenPayload}. The operator sends it on every (re)connect and on every refresh.
 */
export const OP_SET_SINK_TOKEN = 'samplesource.v1.SetSinkToken';

/** Longest token accepted: 16 KiB (ServiceAccount tokens are about 1 KiB; bounded like every frame). */
export const MAX_SINK_TOKEN_LENGTH = 16_384;

/** What stands in for a token wherever one would be printed. */
export const REDACTED = '[redacted]';

// A compact JWS (RFC 7515 §7.1): three base64url segments; nothing else is a ServiceAccount token.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * A compact JWS of at most {@link MAX_SINK_TOKEN_LENGTH} characters. The messages never quote the
 * input: a malformed token is still a secret.
 */
export const SinkTokenSchema = z
  .string({ error: 'token must be a string' })
  .min(1, 'token must not be empty')
  .max(MAX_SINK_TOKEN_LENGTH, `token must be at most ${MAX_SINK_TOKEN_LENGTH} characters`)
  .regex(COMPACT_JWS, 'token must be a compact JWS (three base64url segments joined by dots)');

/** Payload of SetSinkToken. */
export const SetSinkTokenPayloadSchema = z.object({
  /** The audience the token was minted for (its `aud`); the adapter checks it is the one it serves. */
  audience: AudienceSchema,
  token: SinkTokenSchema,
  /** When the token expires (RFC 3339); the adapter stops presenting it then. */
  expiresAt: z.iso.datetime({ offset: true, error: 'expiresAt must be an RFC 3339 date-time' }),
});
export type SetSinkTokenPayload = z.infer<typeof SetSinkTokenPayloadSchema>;

/** Async-result / ack reason when the token's audience is not the one the adapter was configured for. */
export const REASON_AUDIENCE_MISMATCH = 'AudienceMismatch';

/** The payload as it may be logged: the token replaced by {@link REDACTED}. */
export function redactSinkToken(payload: SetSinkTokenPayload): Omit<SetSinkTokenPayload, 'token'> & {
  token: typeof REDACTED;
} {
  return { audience: payload.audience, expiresAt: payload.expiresAt, token: REDACTED };
}

/** `text` with every occurrence of `token` (and of its signature alone) replaced by {@link REDACTED}. */
export function redactTokenIn(text: string, token: string | undefined): string {
  if (!token) return text;
  let out = text.split(token).join(REDACTED);
  // A JWS's signature is what makes it usable; never let it out even when the rest was cut.
  const signature = token.slice(token.lastIndexOf('.') + 1);
  if (signature.length >= 16) out = out.split(signature).join(REDACTED);
  return out;
}

/** pino `redact` paths that keep a token out of structured log lines (defence in depth). */
export const TOKEN_LOG_REDACT_PATHS: readonly string[] = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
];
