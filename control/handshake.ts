// The hello both ends exchange before anything else: what each side sends (version, capabilities,
// identity, session id, its limits) and how a peer's hello is judged. Shared by client and server.
import type { Frame } from './wire.js';
import { PROTOCOL_VERSION, parseFrame } from './wire.js';
import type { HelloValue } from './wire.js';
import type { Refusal } from './refusals.js';
import { refusals } from './refusals.js';
import type { ResolvedLimits } from './limits.js';
import { DEFAULT_LIMITS } from './limits.js';

/** The limits a peer advertised, with protocol defaults for anything it left out (0 or absent). */
export type PeerLimits = Pick<
  ResolvedLimits,
  'maxInFlight' | 'maxOutbox' | 'dedupWindow' | 'maxMessageBytes'
>;

/** What one side says in its hello. */
export interface HelloContent {
  capabilities: readonly string[];
  requiredCapabilities: readonly string[];
  identity: string;
  sessionId: string;
  resumed: boolean;
  limits: ResolvedLimits;
}

/** The hello frame this side sends, advertising the limits it enforces on what it receives. */
export function helloFrame(h: HelloContent, protocolVersion = PROTOCOL_VERSION): Frame {
  return {
    hello: {
      protocolVersion,
      capabilities: [...h.capabilities],
      requiredCapabilities: [...h.requiredCapabilities],
      identity: h.identity,
      sessionId: h.sessionId,
      resumed: h.resumed,
      limits: {
        maxInFlight: h.limits.maxInFlight,
        maxOutbox: h.limits.maxOutbox,
        dedupWindow: h.limits.dedupWindow,
        maxMessageBytes: h.limits.maxMessageBytes,
      },
    },
  };
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

/** The peer's advertised limits, defaults filled in. */
export function peerLimits(hello: HelloValue): PeerLimits {
  const l = hello.limits;
  return {
    maxInFlight: l?.maxInFlight || DEFAULT_LIMITS.maxInFlight,
    maxOutbox: l?.maxOutbox || DEFAULT_LIMITS.maxOutbox,
    dedupWindow: l?.dedupWindow || DEFAULT_LIMITS.dedupWindow,
    maxMessageBytes: l?.maxMessageBytes || DEFAULT_LIMITS.maxMessageBytes,
  };
}

/** Reads the first frame of a stream: a compatible hello, or the refusal that ends the stream. */
export function readHello(
  raw: unknown,
  ourCapabilities: readonly string[],
  ourRequired: readonly string[],
): { ok: true; hello: HelloValue; peer: PeerLimits } | { ok: false; refusal: Refusal } {
  const first = parseFrame(raw);
  if (!first.ok) return { ok: false, refusal: refusals.firstFrameNotHello(first.reason) };
  if (first.frame.kind !== 'hello')
    return { ok: false, refusal: refusals.firstFrameNotHello(`got a ${first.frame.kind} frame`) };
  const hello = first.frame.hello;
  const mismatch = checkHello(hello, ourCapabilities, ourRequired);
  if (mismatch) return { ok: false, refusal: refusals.mismatch(mismatch) };
  return { ok: true, hello, peer: peerLimits(hello) };
}
