// Command routing on the data-plane end: opcode -> (schema, handler). Parses the payload (exact
// JSON), validates it, runs a plain handler (its outcome is the ack) or admits async work (acked
// at once, the result follows as a reliable frame).
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AsyncResultNotifier, AsyncWorkQueue, AsyncOutcome } from './async-command.js';
import { decodePayload } from './codec.js';
import { CommandRejectedError, errorMessage } from './errors.js';
import type { InboundReliable, ReliableOutcome } from './session.js';
import type { AckErrorValue } from './wire.js';

/** A client's session as handlers see it (defined by the server; only its shape matters here). */
export interface RoutedSessionInfo {
  sessionId: string;
}

/** Context of a command handler. */
export interface CommandContext<Info = RoutedSessionInfo> {
  commandId: string;
  opcode: string;
  session: Info;
  logger: Logger;
}

/** Context of an async command handler: report the outcome with notifySuccess / notifyFailure. */
export type AsyncCommandContext<Info = RoutedSessionInfo> = CommandContext<Info> & AsyncResultNotifier;

/** Plain handler: resolve = ack, throw = error ack (CommandRejectedError keeps its code, else 'HandlerError'). */
export type CommandHandler<T, Info = RoutedSessionInfo> = (
  payload: T,
  ctx: CommandContext<Info>,
) => Promise<void> | void;
/** Async handler: acked before it runs; reports through ctx. Returning without reporting = success; a throw = failure. */
export type AsyncCommandHandler<T, Info = RoutedSessionInfo> = (
  payload: T,
  ctx: AsyncCommandContext<Info>,
) => Promise<void> | void;

interface Registered<Info> {
  schema: z.ZodType;
  handler: CommandHandler<unknown, Info> | AsyncCommandHandler<unknown, Info>;
  async: boolean;
}

/** Where a routed command runs: its session's info, logger, async work queue and result sender. */
export interface RouteTarget<Info> {
  info: Info;
  logger: Logger;
  work: AsyncWorkQueue;
  deliver(commandId: string, opcode: string, outcome: AsyncOutcome): Promise<void>;
}

/** The opcode table of a server. */
export class CommandRouter<Info> {
  private readonly handlers = new Map<string, Registered<Info>>();

  /** Registers a plain command handler. */
  handle(opcode: string, schema: z.ZodType, handler: CommandHandler<unknown, Info>): void {
    this.handlers.set(opcode, { schema, handler, async: false });
  }

  /** Registers an async command handler. */
  handleAsync(opcode: string, schema: z.ZodType, handler: AsyncCommandHandler<unknown, Info>): void {
    this.handlers.set(opcode, { schema, handler, async: true });
  }

  /** Routes one inbound reliable frame; the outcome is the ack (null) or the rejection. */
  route(target: RouteTarget<Info>, frame: InboundReliable): ReliableOutcome {
    if (frame.kind !== 'command') return { code: 'Unimplemented', message: 'a server accepts commands only' };
    const { id, opcode, payload } = frame.command;
    const registered = this.handlers.get(opcode);
    if (!registered) return { code: 'Unimplemented', message: `unknown opcode "${opcode}"` };
    let json: unknown;
    try {
      json = decodePayload(payload);
    } catch (err) {
      return { code: 'InvalidArgument', message: `payload is not JSON: ${errorMessage(err)}` };
    }
    const parsed = registered.schema.safeParse(json);
    if (!parsed.success) return { code: 'InvalidArgument', message: z.prettifyError(parsed.error) };
    const ctx: CommandContext<Info> = { commandId: id, opcode, session: target.info, logger: target.logger };
    if (!registered.async) {
      try {
        const r = (registered.handler as CommandHandler<unknown, Info>)(parsed.data, ctx);
        return r instanceof Promise ? r.then(() => null, toAckError) : null;
      } catch (err) {
        return toAckError(err);
      }
    }
    const handler = registered.handler as AsyncCommandHandler<unknown, Info>;
    const start = (): null => {
      target.work.enqueue(
        (notifier) => handler(parsed.data, { ...ctx, ...notifier }),
        (outcome) => target.deliver(id, opcode, outcome),
        target.logger,
      );
      return null;
    };
    // A full work queue delays the ack: the sender's window then holds it back (explicit credit, no stall).
    const room = target.work.room();
    return room === null ? start() : room.then(start);
  }
}

/** A handler's throw as an error ack. */
export function toAckError(err: unknown): AckErrorValue {
  if (err instanceof CommandRejectedError) return { code: err.code, message: err.message };
  return { code: 'HandlerError', message: errorMessage(err) };
}
