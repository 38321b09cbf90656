// The command handlers: each command carries the SampleSource generation it was computed from;
// older generations than the one applied are superseded, equal or newer ones are applied (so
// re-sending the same desired state is an idempotent success).
import type { Logger } from 'pino';
import type { z } from 'zod';
import {
  ApplyStatePayloadSchema,
  GenerationPayloadSchema,
  OP_APPLY_STATE,
  OP_PAUSE,
  OP_RESUME,
  OP_SET_INTERVAL,
  REASON_SUPERSEDED,
  SetIntervalPayloadSchema,
  parseInterval,
  type AdapterState,
  type Generation,
} from '../contract/commands.js';
import { sameSink, type AdapterSink } from '../contract/adapter-sink.js';
import { formatDuration } from '../contract/duration.js';
import type { StateStore } from './state.js';

/** The desired change a command asks for. */
export interface ConfigChange {
  generation: Generation;
  intervalMs?: number;
  paused?: boolean;
  /** The resolved sink (ApplyState.sink); absent: the sink in force stays. */
  sink?: AdapterSink;
  /** ApplyState.sequenceFloor: number the next heartbeat above it. */
  sequenceFloor?: number;
}

/** Result of applying a change. */
export type ApplyResult =
  | { applied: true; state: AdapterState; changed: boolean }
  | { applied: false; reason: string; message: string; state: AdapterState };

/**
 * Applies a change to the store unless its generation is older than the one applied.
 * Pure apart from the store; the caller syncs the heartbeat afterwards.
 */
export function applyChange(store: StateStore, change: ConfigChange): ApplyResult {
  const applied = store.appliedGeneration;
  if (change.generation < applied) {
    return {
      applied: false,
      reason: REASON_SUPERSEDED,
      message: `generation ${change.generation} is older than generation ${applied} already applied; not applied`,
      state: store.snapshot(),
    };
  }
  const before = store.snapshot();
  const sinkBefore = store.sink;
  store.applyConfig(change);
  const after = store.snapshot();
  const changed =
    before.intervalMs !== after.intervalMs ||
    before.paused !== after.paused ||
    (change.sink !== undefined && !sameSink(sinkBefore, store.sink));
  return { applied: true, state: after, changed };
}

/** The part of the control library's async command context the handlers use. */
export interface AsyncCommandContext {
  notifySuccess(detail?: unknown): void;
  notifyFailure(reason: string, message: string): void;
}

/** The part of the control server the handlers register on (ControlServer.handleAsync). */
export interface AsyncCommandRegistry {
  handleAsync<S extends z.ZodType>(
    opcode: string,
    schema: S,
    handler: (payload: z.infer<S>, ctx: AsyncCommandContext) => Promise<void> | void,
  ): unknown;
}

/**
 * Registers SetInterval, Pause, Resume and ApplyState. The control library acks each command
 * at once (or rejects a payload that fails its schema with InvalidArgument, changing nothing);
 * the handler applies it, calls `onApplied` so the heartbeat and the sender follow (a new sink is
 * in force before the result says succeeded), and reports the result.
 */
export function registerCommands(
  server: AsyncCommandRegistry,
  store: StateStore,
  onApplied: (change: ConfigChange) => void,
  logger: Logger,
): void {
  const run = (opcode: string, change: ConfigChange, ctx: AsyncCommandContext): void => {
    const short = opcode.replace(/^samplesource\.v1\./, '');
    const result = applyChange(store, change);
    if (!result.applied) {
      logger.warn(
        { opcode, generation: change.generation, reason: result.reason },
        `command ${short} (generation ${change.generation}) not applied: ${result.message}`,
      );
      ctx.notifyFailure(result.reason, result.message);
      return;
    }
    onApplied(change);
    // Taken after onApplied: a pause has stopped the ticker, so lastSequence is the last one used.
    const s = store.snapshot();
    logger.info(
      {
        opcode,
        generation: change.generation,
        interval: s.interval,
        paused: s.paused,
        sink: s.sinkUri,
        changed: result.changed,
      },
      `command ${short} applied (generation ${change.generation}): ${s.paused ? 'paused' : `every ${s.interval}`}${result.changed ? '' : ', no change'}`,
    );
    ctx.notifySuccess(s);
  };

  server.handleAsync(OP_SET_INTERVAL, SetIntervalPayloadSchema, (p, ctx) =>
    run(OP_SET_INTERVAL, { generation: p.generation, intervalMs: parseInterval(p.interval) }, ctx),
  );
  server.handleAsync(OP_PAUSE, GenerationPayloadSchema, (p, ctx) =>
    run(OP_PAUSE, { generation: p.generation, paused: true }, ctx),
  );
  server.handleAsync(OP_RESUME, GenerationPayloadSchema, (p, ctx) =>
    run(OP_RESUME, { generation: p.generation, paused: false }, ctx),
  );
  server.handleAsync(OP_APPLY_STATE, ApplyStatePayloadSchema, (p, ctx) =>
    run(
      OP_APPLY_STATE,
      {
        generation: p.generation,
        intervalMs: parseInterval(p.interval),
        paused: p.paused,
        ...(p.sink ? { sink: p.sink } : {}),
        ...(p.sequenceFloor !== undefined ? { sequenceFloor: p.sequenceFloor } : {}),
      },
      ctx,
    ),
  );
}

/** One-line description of a state for logs: "every 10s, generation 3" or "paused, generation 3". */
export function describeState(s: AdapterState): string {
  return `${s.paused ? 'paused' : `every ${formatDuration(s.intervalMs)}`}, generation ${s.generation}`;
}
