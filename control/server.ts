// The data-plane end (adapter pod): serves the Control call to any number of authorized clients,
// keeps one session per client session id (session-table.ts, so a reconnecting client resumes),
// routes commands to handlers in order per session (router.ts), and sends async results and
// notifications back. This file is the gRPC wiring and the life of one stream.
import { SYSTEM_CLOCK, every, type Clock, type ClockTimer } from './clock.js';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import { AsyncWorkQueue } from './async-command.js';
import type { AsyncOutcome } from './async-command.js';
import { notificationFrame, resultFrame } from './codec.js';
import { MessageTooLargeError, errorMessage } from './errors.js';
import { helloFrame, readHello } from './handshake.js';
import { keepaliveOptions } from './keepalive.js';
import type { KeepaliveOptions } from './keepalive.js';
import { resolveLimits } from './limits.js';
import type { Limits, ResolvedLimits } from './limits.js';
import type { Link } from './link.js';
import { linkForPeer } from './link.js';
import { controlMetrics } from './metrics.js';
import type { ControlMetrics } from './metrics.js';
import type { Refusal } from './refusals.js';
import { refusals } from './refusals.js';
import { CommandRouter } from './router.js';
import type {
  AsyncCommandContext as RoutedAsyncContext,
  AsyncCommandHandler as RoutedAsyncHandler,
  CommandContext as RoutedContext,
  CommandHandler as RoutedHandler,
} from './router.js';
import { Session } from './session.js';
import type { ReliableOutcome, SessionStats } from './session.js';
import { SessionTable } from './session-table.js';
import type { TableEntry } from './session-table.js';
import { ReloadableServerCredentials, callerIdentities, hookServerTls } from './tls.js';
import type { TlsSource } from './tls.js';
import { CAPABILITIES, controlService, frameSize, isUndecodable } from './wire.js';
import type { Envelope, Envelope__Output, Frame } from './wire.js';

/** Options of a ControlServer. */
export interface ControlServerOptions {
  /**
   * What the hello timeout, the sessions' ack deadlines, the session TTL (sweep) and the TLS reload poll are measured
   * on. Default: the system clock. (Keepalive pings are grpc-js's own HTTP/2 PINGs on its own timers.)
   */
  clock?: Clock;
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
export type CommandContext = RoutedContext<SessionInfo>;
/** Context of an async command handler: report the outcome with notifySuccess / notifyFailure. */
export type AsyncCommandContext = RoutedAsyncContext<SessionInfo>;
/** Plain handler: resolve = ack, throw = error ack (CommandRejectedError keeps its code, else 'HandlerError'). */
export type CommandHandler<T> = RoutedHandler<T, SessionInfo>;
/** Async handler: acked before it runs; reports through ctx. Returning without reporting = success; a throw = failure. */
export type AsyncCommandHandler<T> = RoutedAsyncHandler<T, SessionInfo>;

type Call = grpc.ServerDuplexStream<Envelope__Output, Envelope>;

/** One client session: the reliable machinery plus the stream now carrying it. */
class ServerSession implements TableEntry {
  call: Call | null = null;
  link: Link | null = null;
  detachedAt = 0;
  readonly work: AsyncWorkQueue;

  constructor(
    readonly session: Session,
    readonly identities: string[],
    readonly info: SessionInfo,
    workLimit: number,
  ) {
    this.work = new AsyncWorkQueue(workLimit);
  }

  get attached(): boolean {
    return this.link !== null;
  }

  close(why: string): void {
    this.session.close(`session ${why}`);
    this.session.logger.info({ why }, 'session forgotten');
  }
}

/** gRPC server for the control protocol. */
export class ControlServer {
  private readonly server: grpc.Server;
  private readonly logger: Logger;
  private readonly metrics: ControlMetrics;
  private readonly limits: ResolvedLimits;
  private readonly router = new CommandRouter<SessionInfo>();
  private readonly sessions: SessionTable<ServerSession>;
  private readonly openCallbacks: Array<(info: SessionInfo) => void> = [];
  private readonly creds: ReloadableServerCredentials;
  private readonly capabilities: string[];
  private readonly required: string[];
  private readonly clock: Clock;
  private sweeper: ClockTimer | undefined;
  private reloader: ClockTimer | undefined;
  private port = 0;

  constructor(private readonly options: ControlServerOptions) {
    if (!options.allowedClientIdentities && !options.authorizeClient) {
      throw new TypeError('ControlServer needs allowedClientIdentities or authorizeClient');
    }
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ component: 'control-server' });
    this.metrics = controlMetrics(options.metrics, 'server');
    this.limits = resolveLimits(options.limits);
    this.capabilities = options.capabilities ?? [...CAPABILITIES];
    this.required = options.requiredCapabilities ?? [];
    this.sessions = new SessionTable(options.maxSessions ?? 1024, options.sessionTtlMs ?? 300_000);
    this.creds = new ReloadableServerCredentials(options.tls, this.logger);
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': this.limits.maxMessageBytes,
      'grpc.max_send_message_length': this.limits.maxMessageBytes,
      // Nothing reads channelz; its per-connection socket records and call counters only cost memory.
      'grpc.enable_channelz': 0,
      ...keepaliveOptions(options.keepalive, 'server'),
    });
    this.server.addService(controlService, { Connect: (call: Call) => this.onCall(call) });
  }

  /** Registers a plain command handler for `opcode`; its payload is parsed with `schema` first. */
  handle<S extends z.ZodType>(opcode: string, schema: S, handler: CommandHandler<z.output<S>>): this {
    this.router.handle(opcode, schema, handler as CommandHandler<unknown>);
    return this;
  }

  /** Registers an async command handler: ack at once, then run, then a reliable result. */
  handleAsync<S extends z.ZodType>(
    opcode: string,
    schema: S,
    handler: AsyncCommandHandler<z.output<S>>,
  ): this {
    this.router.handleAsync(opcode, schema, handler as AsyncCommandHandler<unknown>);
    return this;
  }

  /** Calls `cb` whenever a stream completes its hello (new or resumed session), e.g. to publish full state. */
  onSessionOpen(cb: (info: SessionInfo) => void): this {
    this.openCallbacks.push(cb);
    return this;
  }

  /** Best-effort notification (CloudEvent) to every open stream; returns how many streams it was queued on. */
  publish(type: string, data: unknown): number {
    const frame = this.notification(type, data);
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
    // Both on the injected clock (tests run the session TTL on virtual time); neither keeps the process alive.
    this.sweeper = every(this.clock, Math.min(this.sessions.ttlMs, 30_000), () =>
      this.sessions.sweep(this.clock.now()),
    ).unref();
    this.reloader = every(this.clock, this.options.tlsReloadIntervalMs ?? 5_000, () =>
      this.creds.refresh(),
    ).unref();
    this.logger.info({ port: this.port, identity: this.options.identity }, 'control server listening');
    return this.port;
  }

  /** Re-reads certificates now (they are also re-read before each new connection and periodically). */
  reloadTls(): boolean {
    return this.creds.refresh();
  }

  /** Sessions and their bounded counters, for tests and debugging. */
  stats(): Array<{ sessionId: string; attached: boolean; work: number } & SessionStats> {
    return this.sessions.entriesList().map(([sessionId, ss]) => ({
      sessionId,
      attached: ss.attached,
      work: ss.work.size,
      ...ss.session.stats(),
    }));
  }

  /** Stops accepting, lets streams finish for `graceMs` (default 1 s), then cuts them. */
  async close(graceMs = 1000): Promise<void> {
    this.sweeper?.cancel();
    this.reloader?.cancel();
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
    this.sessions.clear('server closed');
    this.logger.info('control server closed');
  }

  private authorize(uris: string[]): boolean {
    if (this.options.authorizeClient) return this.options.authorizeClient(uris);
    const allowed = this.options.allowedClientIdentities ?? [];
    return uris.some((u) => allowed.includes(u));
  }

  private refuse(call: Call, refusal: Refusal, log: Record<string, unknown>): void {
    this.metrics.refused.inc();
    this.logger.warn(
      { ...log, peer: call.getPeer(), code: refusalCodeName(refusal) },
      `refused stream: ${refusal.message}`,
    );
    call.emit('error', { code: refusal.code, details: refusal.message });
  }

  private onCall(call: Call): void {
    const identities = callerIdentities(call);
    if (identities.length === 0 || !this.authorize(identities)) {
      this.refuse(call, refusals.identityNotAllowed(identities), { identities });
      return;
    }
    let ss: ServerSession | undefined;
    let link: Link | undefined;
    let done = false;
    const helloTimeoutMs = this.options.helloTimeoutMs ?? 10_000;
    const helloTimer = this.clock.setTimer(() => {
      done = true;
      this.refuse(call, refusals.noHelloInTime(helloTimeoutMs), { identities });
    }, helloTimeoutMs);
    const cleanup = (why: string): void => {
      if (done) return;
      done = true;
      helloTimer.cancel();
      if (ss && link) {
        ss.session.detach(link);
        if (ss.link === link) {
          ss.link = null;
          ss.call = null;
          ss.detachedAt = this.clock.now();
        }
        ss.session.logger.info({ why }, 'stream closed; session kept for resumption');
      }
    };
    const fail = (refusal: Refusal, log: Record<string, unknown> = {}): void => {
      if (done) return;
      cleanup(`refused: ${refusal.message}`);
      this.refuse(call, refusal, { identities, ...log });
    };
    call.on('data', (envelope: Envelope__Output) => {
      if (done) return;
      if (ss && link) {
        ss.session.receive(envelope, link);
        return;
      }
      const opened = this.openStream(call, identities, envelope, fail);
      if (!opened) return;
      helloTimer.cancel();
      ss = opened.ss;
      link = opened.link;
      const rest = envelope.frames.slice(1);
      if (rest.length > 0 || envelope.acksReceived !== '0')
        ss.session.receive({ frames: rest, acksReceived: envelope.acksReceived }, link);
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
    fail: (refusal: Refusal, log?: Record<string, unknown>) => void,
  ): { ss: ServerSession; link: Link } | null {
    if (isUndecodable(envelope)) {
      fail(refusals.undecodable(envelope.undecodable));
      return null;
    }
    const read = readHello(envelope.frames[0], this.capabilities, this.required);
    if (!read.ok) {
      fail(read.refusal);
      return null;
    }
    const { hello, peer } = read;
    const opened = this.sessions.open(hello.sessionId, identities, () =>
      this.newSession(hello.sessionId, identities, call.getPeer()),
    );
    if (!opened.ok) {
      fail(opened.refusal, { session: hello.sessionId });
      return null;
    }
    const { entry: ss, resumed } = opened;
    if (resumed) {
      this.metrics.reconnects.inc();
      // A client that reconnects before we noticed its old stream died: the new stream wins.
      if (ss.call && ss.call !== call) ss.call.end();
    }
    ss.info.resumed = resumed;
    ss.info.peer = call.getPeer();
    const link = linkForPeer(
      call,
      this.limits,
      { capabilities: hello.capabilities, maxMessageBytes: peer.maxMessageBytes },
      (refusal) => fail(refusal, { session: hello.sessionId }),
    );
    link.push(
      helloFrame({
        capabilities: this.capabilities,
        requiredCapabilities: this.required,
        identity: this.options.identity,
        sessionId: hello.sessionId,
        resumed,
        limits: this.limits,
      }),
    );
    ss.call = call;
    ss.link = link;
    ss.session.attach(link, peer);
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
    const session: Session = new Session({
      id: sessionId,
      limits: this.limits,
      logger,
      metrics: this.metrics,
      clock: this.clock,
      onReliable: (frame): ReliableOutcome =>
        this.router.route(
          {
            info: holder.info,
            logger,
            work: holder.work,
            deliver: (commandId, opcode, outcome) => this.deliverResult(holder, commandId, opcode, outcome),
          },
          frame,
        ),
    });
    const info: SessionInfo = {
      sessionId,
      identity: identities[0] ?? '',
      identities,
      resumed: false,
      peer,
      notify: (type, data) => session.sendBestEffort(this.notification(type, data)),
    };
    // The router's closure above runs only once commands arrive, after this line.
    const holder: ServerSession = new ServerSession(session, identities, info, this.limits.maxOutbox);
    return holder;
  }

  private deliverResult(
    ss: ServerSession,
    commandId: string,
    opcode: string,
    outcome: AsyncOutcome,
  ): Promise<void> {
    const { id, frame } = resultFrame(commandId, opcode, outcome);
    // No timeout: results are kept until acked or the session expires.
    return ss.session.sendReliable(id, frame, { timeoutMs: 0, onFull: 'wait' });
  }

  private notification(type: string, data: unknown): Frame {
    const frame = notificationFrame(this.options.identity, type, data);
    const size = frameSize(frame);
    if (size > this.limits.maxMessageBytes - 512)
      throw new MessageTooLargeError(size, this.limits.maxMessageBytes - 512);
    return frame;
  }
}

function refusalCodeName(refusal: Refusal): string {
  return grpc.status[refusal.code];
}
