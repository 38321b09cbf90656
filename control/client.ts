// The control-plane end (operator): dials one server, keeps one session for its whole life, and
// reconnects forever (exponential backoff with jitter and a cap) until closed. Commands queued while
// disconnected, and everything unacked, go out in order when the next stream opens.
import { SYSTEM_CLOCK, type Clock } from './clock.js';
import { randomBytes, randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { backoffDelay } from './backoff.js';
import type { BackoffOptions } from './backoff.js';
import { decodeNotification, decodeResult, encodePayload } from './codec.js';
import type { CommandResult, Notification } from './codec.js';
import { errorMessage } from './errors.js';
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
import { Session } from './session.js';
import type { InboundReliable, ReliableOutcome, SessionStats } from './session.js';
import { IDENTITY_MISMATCH, sharedClientCredentials, describeCert, readTls } from './tls.js';
import type { TlsSource } from './tls.js';
import { CAPABILITIES, ControlGrpcClient, isUndecodable } from './wire.js';
import type { Envelope, Envelope__Output, NotificationValue } from './wire.js';

export type { CommandResult, Notification } from './codec.js';

/** Connection state of a client. */
export type ClientState = 'connecting' | 'ready' | 'disconnected' | 'closed';

/** Options of a ControlClient. */
export interface ControlClientOptions {
  /** What the hello timeout, the reconnect backoff and the sessions' ack deadlines are measured on. Default: the system clock. */
  clock?: Clock;
  /** host:port of the server (an adapter pod IP). */
  target: string;
  /** Re-read on every connection attempt, so rotated certificates are used by the next stream. */
  tls: TlsSource;
  /** Our identity (SAN URI in our certificate), sent in the hello. */
  identity: string;
  /** SAN URI the server's certificate must carry. */
  expectedServerIdentity: string;
  /** Name sent as TLS SNI (targets are IPs, which SNI may not carry). Default 'samplesource-control'. */
  serverName?: string;
  /** Default: a silent pino logger. */
  logger?: Logger;
  /** prom-client registry for control_* metrics. Default none. */
  metrics?: Registry;
  limits?: Limits;
  backoff?: BackoffOptions;
  /** When the outbox is full: wait for room (default) or fail fast with OutboxFullError. */
  onFull?: 'wait' | 'fail';
  keepalive?: KeepaliveOptions;
  /** Offered capabilities. Default CAPABILITIES. */
  capabilities?: string[];
  /** Capabilities the server must offer. Default none. */
  requiredCapabilities?: string[];
  /** Default ack timeout of sendAndWaitForAck. Default 30 s. */
  defaultTimeoutMs?: number;
  /** Time the server has to answer our hello. Default 10 s. */
  helloTimeoutMs?: number;
  /** Session id; default a random UUID, kept across reconnects. */
  sessionId?: string;
}

/** Options of one send. */
export interface SendAndWaitOptions {
  /**
   * Stable command id; default `<random prefix of this client>.<counter>`, unique across clients and restarts. Pass
   * your own to mark the command pending before it is sent.
   */
  id?: string;
  signal?: AbortSignal;
  /** Default the client's defaultTimeoutMs (30 s); 0 waits forever. */
  timeoutMs?: number;
  /** Overrides the client's onFull for this send. */
  onFull?: 'wait' | 'fail';
}

/** What a successful send resolves to. */
export interface Ack {
  commandId: string;
}

// Statuses by which a server refuses a stream (as opposed to a transport failure).
const REFUSALS = new Set<number>([
  grpc.status.FAILED_PRECONDITION,
  grpc.status.PERMISSION_DENIED,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.RESOURCE_EXHAUSTED,
]);

/** grpc-js channel options of a client's connections. */
function channelOptions(limits: ResolvedLimits, options: ControlClientOptions): grpc.ChannelOptions {
  return {
    'grpc.max_receive_message_length': limits.maxMessageBytes,
    'grpc.max_send_message_length': limits.maxMessageBytes,
    // We own reconnection and its backoff; one channel per stream keeps grpc-js from retrying underneath.
    'grpc.enable_retries': 0,
    'grpc.use_local_subchannel_pool': 1,
    // Nothing reads channelz, and its per-channel traces and counters cost about 25 KB of RSS per
    // connection (bench/fanout-memory.ts: raw grpc-js stream 167 -> 141 KB).
    'grpc.enable_channelz': 0,
    // Targets are pod IPs, and TLS SNI must not be an IP (RFC 6066; Node warns DEP0123). The
    // name is only SNI: the server's identity is checked on its SAN URI (tls.ts).
    'grpc.ssl_target_name_override': options.serverName ?? 'samplesource-control',
    ...keepaliveOptions(options.keepalive, 'client'),
  };
}

/** A fresh command id (UUID v4). */
export function newCommandId(): string {
  return randomUUID();
}

/** gRPC client for the control protocol. */
export class ControlClient {
  readonly sessionId: string;
  private readonly logger: Logger;
  private readonly metrics: ControlMetrics;
  private readonly limits: ResolvedLimits;
  private readonly session: Session;
  private readonly resultCallbacks: Array<(r: CommandResult) => void> = [];
  private readonly notificationCallbacks: Array<(n: Notification) => void> = [];
  private readonly stateCallbacks: Array<(s: ClientState, detail?: string) => void> = [];
  private currentState: ClientState = 'disconnected';
  private started = false;
  private closed = false;
  private grpcClient: grpc.Client | null = null;
  private call: grpc.ClientDuplexStream<Envelope, Envelope__Output> | null = null;
  private wake: (() => void) | null = null;
  private runLoop: Promise<void> | null = null;
  private lastError = '';
  /** Set by reconnectNow(): dial without (or stop) waiting, and start the backoff over. */
  private dialNow = false;
  private readonly clock: Clock;
  /** Built once: every connection attempt of this client uses the same options. */
  private readonly channelOptions: grpc.ChannelOptions;
  // Default command ids: a random prefix per client object (a restarted process resuming the same session id gets
  // another prefix, so its ids never meet the server's dedup window of the old one) and a counter. Cheaper than a
  // UUID per command, and shorter on the wire and as a map key (issue 14 profile: randomUUID ~4 % of client CPU).
  private readonly idPrefix = `${randomBytes(12).toString('base64url')}.`;
  private idCounter = 0;

  constructor(private readonly options: ControlClientOptions) {
    this.sessionId = options.sessionId ?? randomUUID();
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({
      component: 'control-client',
      session: this.sessionId,
      target: options.target,
    });
    this.metrics = controlMetrics(options.metrics, 'client');
    this.limits = resolveLimits(options.limits);
    this.channelOptions = channelOptions(this.limits, options);
    this.session = new Session({
      id: this.sessionId,
      limits: this.limits,
      logger: this.logger,
      metrics: this.metrics,
      clock: this.clock,
      onReliable: (frame) => this.onReliable(frame),
      onNotification: (n) => this.onNotificationFrame(n),
    });
  }

  /** Current connection state. */
  get state(): ClientState {
    return this.currentState;
  }

  /** Last connection error text ('' when none), for status messages. */
  get lastConnectionError(): string {
    return this.lastError;
  }

  /** Starts connecting (and reconnecting until close). Idempotent. */
  start(): this {
    if (this.started || this.closed) return this;
    this.started = true;
    this.runLoop = this.run();
    return this;
  }

  /**
   * Sends a command and resolves when the server acks it. Rejects with CommandRejectedError (error ack), TimeoutError
   * (the command stays queued), AbortError (dropped), OutboxFullError, MessageTooLargeError or ClosedError.
   * Works before the stream is up: the command waits in the outbox.
   */
  sendAndWaitForAck(opcode: string, payload: unknown, options: SendAndWaitOptions = {}): Promise<Ack> {
    const id = options.id ?? this.idPrefix + (this.idCounter++).toString(36);
    let bytes: Buffer;
    try {
      bytes = encodePayload(payload);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    // No async wrapper and no .then: one promise per command on the hot path, resolved to the Ack itself.
    return this.session.sendReliable<Ack>(
      id,
      { command: { id, opcode, payload: bytes } },
      {
        signal: options.signal,
        timeoutMs: options.timeoutMs ?? this.options.defaultTimeoutMs ?? 30_000,
        onFull: options.onFull ?? this.options.onFull ?? 'wait',
      },
      { commandId: id },
    );
  }

  /** Calls `cb` for every async command result (each result once, even if the server resends it). */
  onResult(cb: (r: CommandResult) => void): this {
    this.resultCallbacks.push(cb);
    return this;
  }

  /** Calls `cb` for every notification. */
  onNotification(cb: (n: Notification) => void): this {
    this.notificationCallbacks.push(cb);
    return this;
  }

  /** Calls `cb(state, detail)` on every state change; detail explains a disconnect. */
  onStateChange(cb: (s: ClientState, detail?: string) => void): this {
    this.stateCallbacks.push(cb);
    return this;
  }

  /** Bounded counters of the session (outbox, in flight, dedup window...). */
  stats(): SessionStats {
    return this.session.stats();
  }

  /**
   * Skips what is left of the current backoff and dials now, e.g. when the caller learns the server is back (a pod
   * turned Ready), and starts the backoff over from its first step. Called during a connection attempt, the next
   * attempt follows that one at once if it fails (the news may be newer than the attempt). No effect while connected.
   */
  reconnectNow(): void {
    if (this.closed || this.currentState === 'ready') return;
    this.dialNow = true;
    this.wake?.();
  }

  /** Stops reconnecting, ends the stream and fails pending sends with ClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    this.call?.end();
    this.call?.cancel();
    this.session.close('client closed');
    this.grpcClient?.close();
    await this.runLoop;
    this.setState('closed');
  }

  private setState(s: ClientState, detail?: string): void {
    if (this.currentState === s) return;
    this.currentState = s;
    for (const cb of this.stateCallbacks) {
      try {
        cb(s, detail);
      } catch (err) {
        this.logger.error({ err: errorMessage(err) }, 'state callback threw');
      }
    }
  }

  private async run(): Promise<void> {
    let attempt = 0;
    let everReady = false;
    while (!this.closed) {
      this.setState('connecting');
      const wasReady = await this.connectOnce();
      if (this.closed) break;
      if (wasReady) {
        attempt = 0;
        everReady = true;
      }
      this.setState('disconnected', this.lastError);
      // reconnectNow() during that attempt: its news may be newer than the attempt, so no backoff.
      if (this.dialNow) attempt = 0;
      const delay = this.dialNow ? 0 : backoffDelay(attempt++, this.options.backoff);
      this.dialNow = false;
      this.logger.info(
        { delayMs: Math.round(delay), attempt, reason: this.lastError },
        'reconnecting after backoff',
      );
      // On the injected clock, so tests run the backoff on virtual time.
      if (delay > 0)
        await new Promise<void>((resolve) => {
          const timer = this.clock.setTimer(resolve, delay);
          this.wake = () => {
            timer.cancel();
            resolve();
          };
        });
      this.wake = null;
      // Woken by reconnectNow(): the server is back, so a failure now starts the backoff over.
      if (this.dialNow) {
        this.dialNow = false;
        attempt = 0;
      }
      if (everReady && !this.closed) this.metrics.reconnects.inc();
    }
  }

  /** One stream, from dial to end. Resolves true if it got as far as a successful hello. */
  private connectOnce(): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let creds: grpc.ChannelCredentials;
      try {
        const material = readTls(this.options.tls);
        // One credential set (one secure context) per distinct material, shared by every client in the process.
        creds = sharedClientCredentials(material, this.options.expectedServerIdentity);
        if (this.logger.isLevelEnabled('debug'))
          this.logger.debug({ cert: describeCert(material.cert) }, 'dialling');
      } catch (err) {
        this.lastError = `TLS material unusable: ${errorMessage(err)}`;
        this.logger.error({ err: errorMessage(err) }, 'cannot read TLS material');
        resolve(false);
        return;
      }
      const client = new ControlGrpcClient(this.options.target, creds, this.channelOptions);
      this.grpcClient = client;
      const call = client.Connect();
      this.call = call;
      let link: Link | null = null;
      let ready = false;
      let finished = false;
      const helloTimer = this.clock.setTimer(() => {
        this.lastError = 'server did not answer the hello in time';
        call.cancel();
      }, this.options.helloTimeoutMs ?? 10_000);
      const finish = (why: string): void => {
        if (finished) return;
        finished = true;
        helloTimer.cancel();
        if (link) this.session.detach(link);
        this.lastError = this.lastError || why;
        if (ready) this.logger.warn({ reason: why }, 'stream lost');
        else this.logger.warn({ reason: this.lastError }, 'connection attempt failed');
        call.cancel();
        client.close();
        if (this.call === call) this.call = null;
        if (this.grpcClient === client) this.grpcClient = null;
        resolve(ready);
      };
      // We refuse the server: a client cannot send a status, so it cancels the call and says why in its log.
      const refuseServer = (refusal: Refusal, log: Record<string, unknown> = {}): void => {
        this.lastError = `refused server: ${refusal.toString()}`;
        this.metrics.refused.inc();
        this.logger.error({ ...log, code: grpc.status[refusal.code] }, `refused server: ${refusal.message}`);
        finish(this.lastError);
      };
      call.on('data', (envelope: Envelope__Output) => {
        if (finished) return;
        if (link) {
          this.session.receive(envelope, link);
          return;
        }
        if (isUndecodable(envelope)) {
          refuseServer(refusals.undecodable(envelope.undecodable));
          return;
        }
        const read = readHello(
          envelope.frames[0],
          this.options.capabilities ?? CAPABILITIES,
          this.options.requiredCapabilities ?? [],
        );
        if (!read.ok) {
          refuseServer(read.refusal);
          return;
        }
        const { hello, peer } = read;
        helloTimer.cancel();
        ready = true;
        this.lastError = '';
        this.watchChannel(client, () => finished, finish);
        link = linkForPeer(
          call,
          this.limits,
          { capabilities: hello.capabilities, maxMessageBytes: peer.maxMessageBytes },
          (refusal) => refuseServer(refusal),
        );
        this.session.attach(link, peer);
        this.logger.info({ server: hello.identity, resumed: hello.resumed }, 'stream ready');
        this.setState('ready');
        const rest = envelope.frames.slice(1);
        if (rest.length > 0 || envelope.acksReceived !== '0')
          this.session.receive({ frames: rest, acksReceived: envelope.acksReceived }, link);
      });
      call.on('error', (err: grpc.ServiceError) => {
        if (finished) return;
        // The server's refusal text (identity, version, capability) arrives here as the status details.
        this.lastError = `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`;
        if ((err.details || err.message).includes(IDENTITY_MISMATCH)) {
          this.metrics.refused.inc();
          this.logger.error(
            { expected: this.options.expectedServerIdentity, detail: err.details },
            'refused server: certificate lacks the expected identity',
          );
        } else if (REFUSALS.has(err.code))
          this.logger.error({ code: grpc.status[err.code] }, `refused by server: ${err.details}`);
        finish(this.lastError);
      });
      call.on('end', () => finish('server ended the stream'));
      call.on('close', () => finish('stream closed'));
      call.write({
        frames: [
          helloFrame({
            capabilities: this.options.capabilities ?? [...CAPABILITIES],
            requiredCapabilities: this.options.requiredCapabilities ?? [],
            identity: this.options.identity,
            sessionId: this.sessionId,
            resumed: false,
            limits: this.limits,
          }),
        ],
      });
    });
  }

  /**
   * Ends the stream as soon as the channel leaves READY. After a reset grpc-js can take seconds to fail a call whose
   * connection is already gone (seen in the fault-injection test); the channel state changes at once.
   */
  private watchChannel(client: grpc.Client, isFinished: () => boolean, finish: (why: string) => void): void {
    const channel = client.getChannel();
    const check = (): void => {
      if (isFinished()) return;
      const state = channel.getConnectivityState(false);
      if (state !== grpc.connectivityState.READY) {
        finish(`connection lost (channel ${grpc.connectivityState[state]})`);
        return;
      }
      channel.watchConnectivityState(state, Date.now() + 3_600_000, check);
    };
    check();
  }

  private onReliable(frame: InboundReliable): ReliableOutcome {
    if (frame.kind !== 'result')
      return { code: 'Unimplemented', message: 'a client accepts async results only' };
    const decoded = decodeResult(frame.result);
    if (!decoded.ok) return { code: 'InvalidArgument', message: decoded.error };
    for (const cb of this.resultCallbacks) {
      try {
        cb(decoded.result);
      } catch (err) {
        this.logger.error(
          { err: errorMessage(err), commandId: decoded.result.commandId },
          'result callback threw',
        );
      }
    }
    return null;
  }

  private onNotificationFrame(n: NotificationValue): void {
    const notification = decodeNotification(n);
    for (const cb of this.notificationCallbacks) {
      try {
        cb(notification);
      } catch (err) {
        this.logger.error({ err: errorMessage(err) }, 'notification callback threw');
      }
    }
  }
}
