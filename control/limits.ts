// The bounds of one session, shared by both ends and advertised in the hello (handshake.ts).

/** Bounds of one session. Every field has a bounded default. */
export interface Limits {
  /** Largest gRPC message either way, bytes. Default 4 MiB. */
  maxMessageBytes?: number;
  /** Unacked reliable messages kept for resend. Default 1024. */
  maxOutbox?: number;
  /** Reliable messages written but not yet acked (and, received, not yet answered). Default 256. */
  maxInFlight?: number;
  /** Recent message ids remembered for dedup; at least maxOutbox. Default 4096. */
  dedupWindow?: number;
}

/** Limits with every default filled in. */
export type ResolvedLimits = Required<Limits>;

/** The protocol defaults, also what a peer that advertises no limit is assumed to enforce. */
export const DEFAULT_LIMITS: Readonly<ResolvedLimits> = Object.freeze({
  maxMessageBytes: 4 * 1024 * 1024,
  maxOutbox: 1024,
  maxInFlight: 256,
  dedupWindow: 4096,
});

/** Fills in defaults and checks that the limits make sense together. */
export function resolveLimits(limits: Limits = {}): ResolvedLimits {
  const r: ResolvedLimits = {
    maxMessageBytes: limits.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes,
    maxOutbox: limits.maxOutbox ?? DEFAULT_LIMITS.maxOutbox,
    maxInFlight: limits.maxInFlight ?? DEFAULT_LIMITS.maxInFlight,
    dedupWindow: limits.dedupWindow ?? DEFAULT_LIMITS.dedupWindow,
  };
  if (r.maxMessageBytes < 1024) throw new RangeError('limits.maxMessageBytes must be at least 1024');
  if (r.maxOutbox < 1 || r.maxInFlight < 1)
    throw new RangeError('limits.maxOutbox and maxInFlight must be positive');
  // A resent message must still be in the receiver's window, or it would run twice.
  if (r.dedupWindow < r.maxOutbox)
    throw new RangeError('limits.dedupWindow must be at least limits.maxOutbox');
  return r;
}
