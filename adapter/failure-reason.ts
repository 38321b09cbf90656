// A short, stable cause for a failed delivery ("HTTP 503", "ECONNREFUSED", "certificate verify
// failed"), for the SinkReachable condition: status shows why, the log keeps the full text.
const TLS_CODES =
  /\b(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT(?:_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE)\b/;
const NET_CODE = /\b(E[A-Z]{3,}(?:_[A-Z]+)*)\b/;

/** Maps a send outcome to a short reason (at most 64 characters). */
export function deliveryFailureReason(outcome: { status?: number; error: string }): string {
  if (outcome.status !== undefined) return `HTTP ${outcome.status}`;
  const tls = TLS_CODES.exec(outcome.error);
  if (tls) return `certificate verify failed (${tls[1]})`;
  if (/timed out/i.test(outcome.error)) return 'timed out';
  const net = NET_CODE.exec(outcome.error);
  if (net) return net[1]!;
  return outcome.error.length > 64 ? `${outcome.error.slice(0, 61)}...` : outcome.error;
}
