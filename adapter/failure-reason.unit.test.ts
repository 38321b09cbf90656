import { deliveryFailureReason } from './failure-reason.js';

describe('deliveryFailureReason', () => {
  it.each([
    {
      name: 'HTTP status',
      outcome: { status: 503, error: 'sink answered 503 Service Unavailable' },
      want: 'HTTP 503',
    },
    { name: 'refused', outcome: { error: 'fetch failed (ECONNREFUSED)' }, want: 'ECONNREFUSED' },
    { name: 'reset', outcome: { error: 'fetch failed (ECONNRESET)' }, want: 'ECONNRESET' },
    {
      name: 'unknown CA',
      outcome: { error: 'fetch failed (UNABLE_TO_VERIFY_LEAF_SIGNATURE)' },
      want: 'certificate verify failed (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
    },
    {
      name: 'self-signed',
      outcome: { error: 'fetch failed (SELF_SIGNED_CERT_IN_CHAIN)' },
      want: 'certificate verify failed (SELF_SIGNED_CERT_IN_CHAIN)',
    },
    {
      name: 'wrong host name',
      outcome: { error: 'fetch failed (ERR_TLS_CERT_ALTNAME_INVALID)' },
      want: 'certificate verify failed (ERR_TLS_CERT_ALTNAME_INVALID)',
    },
    { name: 'timeout', outcome: { error: 'timed out' }, want: 'timed out' },
    {
      name: 'busy',
      outcome: { error: 'sink too slow: 4 sends still in flight' },
      want: 'sink too slow: 4 sends still in flight',
    },
    { name: 'long text is cut', outcome: { error: 'x'.repeat(100) }, want: `${'x'.repeat(61)}...` },
  ])('$name', ({ outcome, want }) => {
    expect(deliveryFailureReason(outcome)).toBe(want);
  });
});
