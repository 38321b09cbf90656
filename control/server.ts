// The data-plane end (adapter pod): serves the Control call to any number of authorized clients,
// keeps one session per client session id (so a reconnecting client resumes), runs handlers in
// order per session, and sends async results and notifications back.
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { AsyncWorkQueue } from './async-command.js';
import type { AsyncOutcome, AsyncResultNotifier } from './async-command.js';
import { CommandRejectedError, MessageTooLargeError, errorMessage } from './errors.js';
import { Link } from './link.js';
import { controlMetrics } from './metrics.js';
import type { ControlMetrics } from './metrics.js';
import { Session, resolveLimits } from './session.js';
import type { InboundReliable, Limits, ReliableOutcome, ResolvedLimits, SessionStats } from './session.js';
import { ReloadableServerCredentials, callerIdentities, hookServerTls } from './tls.js';
import type { TlsSource } from './tls.js';
import { CAPABILITIES, checkHello, controlService, frameSize, helloFrame, parseFrame } from './wire.js';
import type { AckErrorValue, Envelope, Envelope__Output, Frame } from './wire.js';
import { keepaliveOptions } from './keepalive.js';
import type { KeepaliveOptions } from './keepalive.js';

/** Options of a ControlServer. */
export interface ControlServerOptions {
  /** host:port to listen on; port 0 picks a free one. */
  address: string;
  tls: TlsSource;
  /** Our identity (SAN URI in our certificate), sent in the hello. */
  identity: string;
  /** Client SAN URIs allowed in. Either this or authorizeClient is required. */
  allowedClientIdentities?: string[];
  /** Decides on a client's SAN URIs; wins over allowedClientIdentities. */
  authorizeClient?: (uris: string[]) => boolean;
  /** Default: a silent pino logger. */
  logger?: Logger;
  /** prom-client registry for control_* metrics. Default none. */
  metrics?: Registry;
  limits?: Limits;
  keepalive?: KeepaliveOptions;
  /** Offered capabilities. Default CAPABILITIES. */
  capabilities?: string[];
  /** Capabilities a client must offer. Default none. */
  requiredCapabilities?: string[];
  /** Time a new stream has to say hello. Default 10 s. */
  helloTimeoutMs?: number;
  /** How long a session without a stream is kept for resumption. Default 5 min. */
  sessionTtlMs?: number;
  /** Sessions kept at most; the oldest detached one is evicted first. Default 1024. */
  maxSessions?: number;
  /** Certificates are also re-read this often (besides before every new connection). Default 5 s. */
  tlsReloadIntervalMs?: number;
}

/** A client's session as handlers and onSessionOpen see it. */
export interface SessionInfo {
  sessionId: string;
  /** The client's first SAN URI. */
  identity: string;
  identities: string[];
  /** True when the stream resumed an existing session (outbox and dedup window kept). */
  resumed: boolean;
  peer: string;
  /** Sends a best-effort notification to this session only; false when dropped (not connected or not reading). */
  notify(type: string, data: unknown): boolean;
}

/** Context of a command handler. */
export interface CommandContext {
  commandId: string;
  opcode: string;
  session: SessionInfo;
  logger: Logger;
}

/** Context of an async command handler: report the outcome with notifySuccess / notifyFailure. */
export type AsyncCommandContext = CommandContext & AsyncResultNotifier;

/** Plain handler: resolve = ack, throw = error ack (CommandRejectedError keeps its code, else 'HandlerError'). */
export type CommandHandler<T> = (payload: T, ctx: CommandContext) => Promise<void> | void;
/** Async handler: acked before it runs; reports through ctx. Returning without reporting = success; a throw = failure. */
export type AsyncCommandHandler<T> = (payload: T, ctx: AsyncCommandContext) => Promise<void> | void;

interface Registered {
  schema: z.ZodType;
  handler: CommandHandler<unknown> | AsyncCommandHandler<unknown>;
  async: boolean;
}

interface ServerSession {
  session: Session;
  identities: string[];
  info: SessionInfo;
  call: grpc.ServerDuplexStream<Envelope__Output, Envelope> | null;
  link: Link | null;
  detachedAt: number;
  work: AsyncWorkQueue;
}

type Call = grpc.ServerDuplexStream<Envelope__Output, Envelope>;

/** gRPC server for the control protocol. */
export class ControlServer {
  private readonly server: grpc.Server;
  private readonly logger: Logger;
  private readonly metrics: ControlMetrics;
  private readonly limits: ResolvedLimits;
  private readonly handlers = new Map<string, Registered>();
  private readonly sessions = new Map<string, ServerSession>();
  private readonly openCallbacks: Array<(info: SessionInfo) => void> = [];
  private readonly creds: ReloadableServerCredentials;
  private readonly capabilities: string[];
  private readonly required: string[];
  private sweeper: NodeJS.Timeout | undefined;
  private reloader: NodeJS.Timeout | undefined;
  private port = 0;

  constructor(private readonly options: ControlServerOptions) {
    if (!options.allowedClientIdentities && !options.authorizeClient) {
      throw new TypeError('ControlServer needs allowedClientIdentities or authorizeClient');
    }
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ component: 'control-server' });
    this.metrics = controlMetrics(options.metrics, 'server');
    this.limits = resolveLimits(options.limits);
    this.capabilities = options.capabilities ?? [...CAPABILITIES];
    this.required = options.requiredCapabilities ?? [];
    this.creds = new ReloadableServerCredentials(options.tls, this.logger);
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': this.limits.maxMessageBytes,
      'grpc.max_send_message_length': this.limits.maxMessageBytes,
      ...keepaliveOptions(options.keepalive, 'server'),
    });
    this.server.addService(controlService, { Connect: (call: Call) => this.onCall(call) });
  }

  /** Registers a plain command handler for `opcode`; its payload is parsed with `schema` first. */
  handle<S extends z.ZodType>(opcode: string, schema: S, handler: CommandHandler<z.output<S>>): this {
    this.handlers.set(opcode, { schema, handler: handler as CommandHandler<unknown>, async: false });
    return this;
  }

  /** Registers an async command handler: ack at once, then run, then a reliable result. */
  handleAsync<S extends z.ZodType>(
    opcode: string,
    schema: S,
    handler: AsyncCommandHandler<z.output<S>>,
  ): this {
    this.handlers.set(opcode, { schema, handler: handler as AsyncCommandHandler<unknown>, async: true });
    return this;
  }

  /** Calls `cb` whenever a stream completes its hello (new or resumed session), e.g. to publish full state. */
  onSessionOpen(cb: (info: SessionInfo) => void): this {
    this.openCallbacks.push(cb);
    return this;
  }

  /** Best-effort notification (CloudEvent) to every open stream; returns how many streams it was queued on. */
  publish(type: string, data: unknown): number {
    const frame = this.notificationFrame(type, data);
    let n = 0;
    for (const ss of this.sessions.values()) if (ss.link && ss.session.sendBestEffort(frame)) n++;
    return n;
  }

  /** Starts listening; resolves to the bound port. */
  async start(): Promise<number> {
    this.port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(this.options.address, this.creds, (err, port) =>
        err ? reject(err) : resolve(port),
      );
    });
    if (!hookServerTls(this.server, this.creds, this.logger, () => this.metrics.refused.inc())) {
      this.logger.warn(
        'grpc-js internals changed: TLS refusals are not logged here, and certificates reload by polling only',
      );
    }
    const ttl = this.options.sessionTtlMs ?? 300_000;
    this.sweeper = setInterval(() => this.sweep(ttl), Math.min(ttl, 30_000));
    this.sweeper.unref();
    this.reloader = setInterval(() => this.creds.refresh(), this.options.tlsReloadIntervalMs ?? 5_000);
    this.reloader.unref();
    this.logger.info({ port: this.port, identity: this.options.identity }, 'control server listening');
    return this.port;
  }

  /** Re-reads certificates now (they are also re-read before each new connection and periodically). */
  reloadTls(): boolean {
    return this.creds.refresh();
  }

  /** Sessions and their bounded counters, for tests and debugging. */
  stats(): Array<{ sessionId: string; attached: boolean; work: number } & SessionStats> {
    return [...this.sessions.entries()].map(([sessionId, ss]) => ({
      sessionId,
      attached: ss.link !== null,
      work: ss.work.size,
      ...ss.session.stats(),
    }));
  }

  /** Stops accepting, lets streams finish for `graceMs` (default 1 s), then cuts them. */
  async close(graceMs = 1000): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.reloader) clearInterval(this.reloader);
    for (const ss of this.sessions.values()) ss.call?.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    for (const ss of this.sessions.values()) ss.session.close('server closed');
    this.sessions.clear();
    this.logger.info('control server closed');
  }

  private authorize(uris: string[]): boolean {
    if (this.options.authorizeClient) return this.options.authorizeClient(uris);
    const allowed = this.options.allowedClientIdentities ?? [];
    return uris.some((u) => allowed.includes(u));
  }

  private refuse(call: Call, code: grpc.status, details: string, log: Record<string, unknown>): void {
    this.metrics.refused.inc();
    this.logger.warn({ ...log, peer: call.getPeer(), code: grpc.status[code] }, `refused stream: ${details}`);
    call.emit('error', { code, details });
  }

  private onCall(call: Call): void {
    const identities = callerIdentities(call);
    if (identities.length === 0 || !this.authorize(identities)) {
      this.refuse(
        call,
        grpc.status.PERMISSION_DENIED,
        `client identity [${identities.join(', ')}] is not allowed`,
        {
          identities,
        },
      );
      return;
    }
    let ss: ServerSession | undefined;
    let link: Link | undefined;
    let done = false;
    const helloTimer = setTimeout(() => {
      this.refuse(call, grpc.status.DEADLINE_EXCEEDED, 'no hello received in time', { identities });
    }, this.options.helloTimeoutMs ?? 10_000);
    const cleanup = (why: string): void => {
      if (done) return;
      done = true;
      clearTimeout(helloTimer);
      if (ss && link) {
        ss.session.detach(link);
        if (ss.link === link) {
          ss.link = null;
          ss.call = null;
          ss.detachedAt = Date.now();
        }
        ss.session.logger.info({ why }, 'stream closed; session kept for resumption');
      }
    };
    call.on('data', (envelope: Envelope__Output) => {
      if (done) return;
      if (ss) {
        // Data still buffered from a stream that a reconnect has replaced: the resend covers it.
        if (ss.link === link) ss.session.receive(envelope);
        return;
      }
      const opened = this.openStream(call, identities, envelope);
      if (!opened) return;
      clearTimeout(helloTimer);
      ss = opened.ss;
      link = opened.link;
      const rest = envelope.frames.slice(1);
      if (rest.length > 0) ss.session.receive({ frames: rest });
    });
    call.on('error', (err: Error) => cleanup(`error: ${err.message}`));
    call.on('cancelled', () => cleanup('cancelled by client'));
    call.on('end', () => {
      cleanup('ended by client');
      call.end();
    });
    call.on('close', () => cleanup('closed'));
  }

  private openStream(
    call: Call,
    identities: string[],
    envelope: Envelope__Output,
  ): { ss: ServerSession; link: Link } | null {
    const first = parseFrame(envelope.frames[0]);
    if (!first.ok || first.frame.kind !== 'hello') {
      this.refuse(call, grpc.status.INVALID_ARGUMENT, 'the first frame must be a valid hello', {
        reason: first.ok ? first.frame.kind : first.reason,
      });
      return null;
    }
    const hello = first.frame.hello;
    const mismatch = checkHello(hello, this.capabilities, this.required);
    if (mismatch) {
      this.refuse(call, grpc.status.FAILED_PRECONDITION, mismatch, { session: hello.sessionId, identities });
      return null;
    }
    let ss = this.sessions.get(hello.sessionId);
    const resumed = ss !== undefined;
    if (ss && !ss.identities.some((i) => identities.includes(i))) {
      // A session id is only resumable by the identity that opened it.
      this.refuse(call, grpc.status.PERMISSION_DENIED, 'session belongs to another identity', {
        session: hello.sessionId,
        identities,
      });
      return null;
    }
    if (!ss) {
      if (!this.makeRoom()) {
        this.refuse(call, grpc.status.RESOURCE_EXHAUSTED, 'too many sessions', { identities });
        return null;
      }
      ss = this.newSession(hello.sessionId, identities, call.getPeer());
    } else {
      this.metrics.reconnects.inc();
      // A client that reconnects before we noticed its old stream died: the new stream wins.
      if (ss.call && ss.call !== call) ss.call.end();
    }
    ss.info.resumed = resumed;
    ss.info.peer = call.getPeer();
    const link = new Link(call, this.limits.maxMessageBytes - 256, Math.max(256, this.limits.maxOutbox * 4));
    link.push(
      helloFrame({
        capabilities: this.capabilities,
        requiredCapabilities: this.required,
        identity: this.options.identity,
        sessionId: hello.sessionId,
        resumed,
      }),
    );
    ss.call = call;
    ss.link = link;
    ss.session.attach(link);
    ss.session.logger.info(
      { client: hello.identity, identities, resumed, peer: ss.info.peer },
      'stream open',
    );
    for (const cb of this.openCallbacks) {
      try {
        cb(ss.info);
      } catch (err) {
        this.logger.error({ err: errorMessage(err) }, 'onSessionOpen callback threw');
      }
    }
    return { ss, link };
  }

  private newSession(sessionId: string, identities: string[], peer: string): ServerSession {
    const logger = this.logger.child({ session: sessionId });
    const holder = {} as ServerSession;
    const session = new Session({
      id: sessionId,
      limits: this.limits,
      logger,
      metrics: this.metrics,
      onReliable: (frame) => this.onReliable(holder, frame),
    });
    const info: SessionInfo = {
      sessionId,
      identity: identities[0] ?? '',
      identities,
      resumed: false,
      peer,
      notify: (type, data) => session.sendBestEffort(this.notificationFrame(type, data)),
    };
    Object.assign(holder, {
      session,
      identities,
      info,
      call: null,
      link: null,
      detachedAt: 0,
      work: new AsyncWorkQueue(this.limits.maxOutbox),
    } satisfies ServerSession);
    this.sessions.set(sessionId, holder);
    return holder;
  }

  private onReliable(ss: ServerSession, frame: InboundReliable): ReliableOutcome {
    if (frame.kind !== 'command') return { code: 'Unimplemented', message: 'a server accepts commands only' };
    const { id, opcode, payload } = frame.command;
    const registered = this.handlers.get(opcode);
    if (!registered) return { code: 'Unimplemented', message: `unknown opcode "${opcode}"` };
    let json: unknown;
    try {
      json =
        payload.length === 0
          ? null
          : JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8'));
    } catch (err) {
      return { code: 'InvalidArgument', message: `payload is not JSON: ${errorMessage(err)}` };
    }
    const parsed = registered.schema.safeParse(json);
    if (!parsed.success) return { code: 'InvalidArgument', message: z.prettifyError(parsed.error) };
    const ctx: CommandContext = { commandId: id, opcode, session: ss.info, logger: ss.session.logger };
    if (!registered.async) {
      try {
        const r = (registered.handler as CommandHandler<unknown>)(parsed.data, ctx);
        return r instanceof Promise ? r.then(() => null, toAckError) : null;
      } catch (err) {
        return toAckError(err);
      }
    }
    const start = (): null => {
      ss.work.enqueue(
        (notifier) =>
          (registered.handler as AsyncCommandHandler<unknown>)(parsed.data, { ...ctx, ...notifier }),
        (outcome) => this.deliverResult(ss, id, opcode, outcome),
        ss.session.logger,
      );
      return null;
    };
    const room = ss.work.room();
    return room === null ? start() : room.then(start);
  }

  private deliverResult(
    ss: ServerSession,
    commandId: string,
    opcode: string,
    outcome: AsyncOutcome,
  ): Promise<void> {
    const id = `${commandId}#result`;
    const detail =
      outcome.detail === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(outcome.detail));
    const frame: Frame = {
      result: {
        id,
        commandId,
        opcode,
        succeeded: outcome.succeeded,
        reason: outcome.reason,
        message: outcome.message,
        detail,
      },
    };
    // No timeout: results are kept until acked or the session expires.
    return ss.session.sendReliable(id, frame, { timeoutMs: 0, onFull: 'wait' });
  }

  private notificationFrame(type: string, data: unknown): Frame {
    const now = Date.now();
    const frame: Frame = {
      notification: {
        event: {
          id: randomUUID(),
          source: this.options.identity,
          specVersion: '1.0',
          type,
          attributes: {
            time: {
              ceTimestamp: { seconds: String(Math.floor(now / 1000)), nanos: (now % 1000) * 1_000_000 },
            },
            datacontenttype: { ceString: 'application/json' },
          },
          textData: JSON.stringify(data ?? null),
        },
      },
    };
    const size = frameSize(frame);
    if (size > this.limits.maxMessageBytes - 512)
      throw new MessageTooLargeError(size, this.limits.maxMessageBytes - 512);
    return frame;
  }

  private makeRoom(): boolean {
    const max = this.options.maxSessions ?? 1024;
    if (this.sessions.size < max) return true;
    let oldest: [string, ServerSession] | undefined;
    for (const entry of this.sessions) {
      if (entry[1].link) continue;
      if (!oldest || entry[1].detachedAt < oldest[1].detachedAt) oldest = entry;
    }
    if (!oldest) return false;
    this.expire(oldest[0], oldest[1], 'evicted to make room');
    return true;
  }

  private sweep(ttlMs: number): void {
    const cutoff = Date.now() - ttlMs;
    for (const [id, ss] of this.sessions)
      if (!ss.link && ss.detachedAt < cutoff) this.expire(id, ss, 'expired');
  }

  private expire(id: string, ss: ServerSession, why: string): void {
    this.sessions.delete(id);
    ss.session.close(`session ${why}`);
    ss.session.logger.info({ why }, 'session forgotten');
  }
}

function toAckError(err: unknown): AckErrorValue {
  if (err instanceof CommandRejectedError) return { code: err.code, message: err.message };
  return { code: 'HandlerError', message: errorMessage(err) };
}
