// The commands of the operator-adapter contract: what the operator sends over the control
// protocol (opcodes and payloads) and what the adapter reports back (AdapterState). Imported by
// both binaries; depends on zod and nothing else.
import { z } from 'zod';
import { AdapterSinkSchema } from './adapter-sink.js';
import { DurationSyntaxError, formatDuration, parseDuration } from './duration.js';

export { DurationSyntaxError, formatDuration, parseDuration };

/** Smallest heartbeat interval accepted: 100 ms (fast enough for tests, slow enough to be sane). */
export const MIN_INTERVAL_MS = 100;
/** Largest heartbeat interval accepted: 24 hours. */
export const MAX_INTERVAL_MS = 24 * 3_600_000;
/** Interval used when neither the environment nor a command says otherwise: 10 s. */
export const DEFAULT_INTERVAL = '10s';

/** Opcode: set the heartbeat interval. Payload {@link SetIntervalPayload}. */
export const OP_SET_INTERVAL = 'samplesource.v1.SetInterval';
/** Opcode: stop sending heartbeats. Payload {@link GenerationPayload}. */
export const OP_PAUSE = 'samplesource.v1.Pause';
/** Opcode: start sending again at the current interval. Payload {@link GenerationPayload}. */
export const OP_RESUME = 'samplesource.v1.Resume';
/** Opcode: the full desired state, sent on every (re)connect and spec change. Payload {@link ApplyStatePayload}. */
export const OP_APPLY_STATE = 'samplesource.v1.ApplyState';
/** Notification type carrying {@link AdapterState}: on stream open and on every state change. */
export const NOTIFICATION_ADAPTER_STATE = 'samplesource.v1.AdapterState';
/** Async-result failure reason for a command whose generation is older than the one applied. */
export const REASON_SUPERSEDED = 'Superseded';

/**
 * Parses an interval and checks its bounds; returns whole milliseconds.
 * Throws an Error whose message says what is wrong ("interval \"50ms\" is below the minimum 100ms").
 */
export function parseInterval(text: string): number {
  const ms = Math.round(parseDuration(text));
  if (ms < MIN_INTERVAL_MS) {
    throw new RangeError(
      `interval ${JSON.stringify(text)} is below the minimum ${formatDuration(MIN_INTERVAL_MS)}`,
    );
  }
  if (ms > MAX_INTERVAL_MS) {
    throw new RangeError(
      `interval ${JSON.stringify(text)} is above the maximum ${formatDuration(MAX_INTERVAL_MS)}`,
    );
  }
  return ms;
}

/** A Go duration string within [MIN_INTERVAL_MS, MAX_INTERVAL_MS]; the error message says why not. */
export const IntervalSchema = z.string().superRefine((text, ctx) => {
  try {
    parseInterval(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

/**
 * A Kubernetes generation: int64 on the wire (an exact JSON integer, control/codec.ts). A safe integer decodes
 * as a number, a larger one as a bigint, so `<` and `===` work across both; anything beyond int64 is refused.
 */
export type Generation = number | bigint;
const INT64_MAX = 2n ** 63n - 1n;
function int64Schema(min: number) {
  return z.union([
    z.number().int().min(min).max(Number.MAX_SAFE_INTEGER),
    z.bigint().min(BigInt(min)).max(INT64_MAX, 'generation is beyond int64'),
  ]);
}

/** A generation an adapter reports applied: an int64 ≥ 0 (0 while only its environment configured it). */
export const AppliedGenerationSchema = int64Schema(0);

/** The SampleSource's metadata.generation the command was computed from (an int64 ≥ 1). */
export const GenerationSchema = int64Schema(1);

/** Payload of Pause and Resume. */
export const GenerationPayloadSchema = z.object({ generation: GenerationSchema });
export type GenerationPayload = z.infer<typeof GenerationPayloadSchema>;

/** Payload of SetInterval. */
export const SetIntervalPayloadSchema = z.object({ generation: GenerationSchema, interval: IntervalSchema });
export type SetIntervalPayload = z.infer<typeof SetIntervalPayloadSchema>;

/**
 * Payload of ApplyState: the whole desired configuration. `sink` (issue 13) is the resolved sink;
 * absent (an older operator, or a sink that does not resolve now), the adapter keeps the one in force.
 */
export const ApplyStatePayloadSchema = z.object({
  generation: GenerationSchema,
  interval: IntervalSchema,
  paused: z.boolean(),
  sink: AdapterSinkSchema.optional(),
  /**
   * Sequence already used for this source by another emitter (the shared pool, before a switch to
   * dedicated): the adapter's next heartbeat is numbered above it. Optional; absent, nothing changes.
   */
  sequenceFloor: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});
export type ApplyStatePayload = z.infer<typeof ApplyStatePayloadSchema>;

/** Data of the AdapterState notification (and the detail of every successful async result). */
export const AdapterStateSchema = z.object({
  podName: z.string(),
  interval: z.string(),
  intervalMs: z.number().int(),
  paused: z.boolean(),
  /** Last generation applied; 0 while only the environment has configured the adapter. */
  generation: AppliedGenerationSchema,
  eventsSent: z.number().int().min(0),
  eventsDropped: z.number().int().min(0),
  eventsRetried: z.number().int().min(0),
  lastSendError: z.string().nullable(),
  // Delivery health (issue 13), optional so older adapters and operators still interoperate.
  /** Short cause of the latest failed delivery ("HTTP 503", "ECONNREFUSED", "certificate verify failed"). */
  lastSendFailureReason: z.string().max(200).nullable().optional(),
  /** Deliveries failed in a row since the last success (a dropped heartbeat counts once). */
  consecutiveFailures: z.number().int().min(0).optional(),
  /** Deliveries succeeded in a row since the last failure. */
  consecutiveSuccesses: z.number().int().min(0).optional(),
  /** The sink URI in force (K_SINK, or the last ApplyState's sink). Optional, for older adapters. */
  sinkUri: z.string().max(4096).optional(),
  /** Last heartbeat sequence used (sent, in flight or dropped). Optional, for older adapters. */
  lastSequence: z.number().int().min(0).optional(),
});
export type AdapterState = z.infer<typeof AdapterStateSchema>;
