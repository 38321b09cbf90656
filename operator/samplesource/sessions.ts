// Control sessions to adapter pods: one ControlClient per (source, ready pod), opened when a pod
// becomes ready and closed when it goes away. A leader-bound runnable: sessions exist only while
// this replica leads, and all of them close the moment it stops leading. Sends ApplyState as async commands and keeps, per
// pod, what was sent and what came back, so a reconcile can compute ConfigApplied without waiting.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  ControlClient,
  CommandRejectedError,
  NotificationStore,
  newCommandId,
  type CommandResult,
  type Notification,
  type TlsPems,
} from '../../control/index.js';
import {
  AdapterStateSchema,
  NOTIFICATION_ADAPTER_STATE,
  OP_APPLY_STATE,
  type AdapterState,
  type ApplyStatePayload,
  type Generation,
} from '../../contract/commands.js';
import { adapterIdentity, adapterServerName } from '../../contract/identities.js';
import { OP_SET_SINK_TOKEN, redactTokenIn, type SetSinkTokenPayload } from '../../contract/sink-token.js';
import { aborted, type Runnable } from '../runtime/index.js';
import type { PodReport } from './status.js';
import { healthSignature } from './sink-health.js';
import { sinkKey } from './adapter-sink.js';

/** An adapter pod the operator should be steering. */
export interface AdapterPod {
  name: string;
  uid: string;
  ip: string;
}

/** Options of {@link AdapterSessions}. */
export interface AdapterSessionsOptions {
  /** The operator's identity and client certificate; asked on every (re)connect so renewals apply. */
  tls: () => TlsPems;
  identity: string;
  /** Port the adapters' control servers listen on. Default 9443. */
  controlPort?: number;
  /** Longest wait between reconnect attempts to an adapter. Default 1 s. */
  reconnectCapMs?: number;
  /** Called when something arrives that a reconcile of `sourceKey` should look at. */
  onChange: (sourceKey: string) => void;
  logger: Logger;
  metrics?: Registry;
}

interface PodSession {
  pod: AdapterPod;
  client: ControlClient;
  /** The last ApplyState sent; its outcome is in the command store under this id. */
  lastSent?: {
    commandId: string;
    generation: Generation;
    paused: boolean;
    sinkKey?: string;
    audience?: string;
  };
  adapterState?: AdapterState;
}

/** Every open control session, by source key (namespace/name) then pod name. Add it to the manager. */
export class AdapterSessions implements Runnable {
  readonly name = 'control-sessions';
  readonly needLeaderElection = true;
  private readonly sessions = new Map<string, Map<string, PodSession>>();
  /** The sink token each source's adapters present (OIDC sinks), sent on every (re)connect. */
  private readonly sinkTokens = new Map<string, SetSinkTokenPayload>();
  /** What became of each ApplyState, by source and pod; a change re-queues the source. */
  private readonly commands: NotificationStore;
  private readonly options: AdapterSessionsOptions;
  /** True during a leadership term (between run and its abort): only then are sessions opened. */
  private active = false;

  constructor(options: AdapterSessionsOptions) {
    this.options = options;
    this.commands = new NotificationStore({ onChange: (key) => options.onChange(key), maxCommandsPerPod: 4 });
  }

  /** One leadership term: sessions may be opened until `signal` aborts, then every one is closed. */
  async run(signal: AbortSignal): Promise<void> {
    this.active = true;
    await aborted(signal);
    this.active = false;
    await this.closeAll();
  }

  /**
   * Opens sessions to pods that are new (or came back with another IP or UID) and closes sessions
   * to pods that are gone. `namespace`/`name` name the source, whose adapters must prove that identity.
   */
  sync(sourceKey: string, namespace: string, name: string, pods: readonly AdapterPod[]): void {
    // A reconcile still finishing after the lease was lost must not steer: another replica leads.
    if (!this.active) return;
    let byPod = this.sessions.get(sourceKey);
    if (!byPod) this.sessions.set(sourceKey, (byPod = new Map<string, PodSession>()));
    const wanted = new Map(pods.map((p) => [p.name, p]));
    for (const [podName, session] of byPod) {
      const want = wanted.get(podName);
      if (!want || want.ip !== session.pod.ip || want.uid !== session.pod.uid) {
        this.closeSession(sourceKey, session);
        byPod.delete(podName);
      }
    }
    for (const pod of pods) {
      const existing = byPod.get(pod.name);
      if (!existing) byPod.set(pod.name, this.openSession(sourceKey, namespace, name, pod));
      // The pod is Ready (again, e.g. after a container restart) while our session waits in its backoff:
      // dial now instead of on the next backoff tick.
      else if (existing.client.state !== 'ready') existing.client.reconnectNow();
    }
    if (byPod.size === 0) this.sessions.delete(sourceKey);
  }

  /** What each steered pod reported for the last ApplyState it was sent (see status.ts PodReport). */
  reports(sourceKey: string): Map<string, PodReport> {
    const out = new Map<string, PodReport>();
    for (const [podName, s] of this.sessions.get(sourceKey) ?? []) {
      const status = s.lastSent && this.commands.get(sourceKey, podName, s.lastSent.commandId);
      if (s.lastSent && status) {
        const detail = status.state === 'succeeded' ? AdapterStateSchema.safeParse(status.detail) : undefined;
        const lastSequence = detail?.success ? detail.data.lastSequence : undefined;
        out.set(podName, {
          generation: s.lastSent.generation,
          state: status.state,
          paused: s.lastSent.paused,
          ...(lastSequence !== undefined ? { lastSequence } : {}),
          ...(status.reason ? { reason: status.reason } : {}),
          ...(status.message ? { message: status.message } : {}),
          ...(s.lastSent.sinkKey ? { sinkKey: s.lastSent.sinkKey } : {}),
        });
      }
    }
    return out;
  }

  /** The adapters' own last reported state, by pod name. */
  adapterStates(sourceKey: string): Map<string, AdapterState> {
    const out = new Map<string, AdapterState>();
    for (const [podName, s] of this.sessions.get(sourceKey) ?? [])
      if (s.adapterState) out.set(podName, s.adapterState);
    return out;
  }

  /**
   * Sends the desired state to one pod as an async command; returns at once (the command is in the
   * session's outbox, resent across reconnects until acked). The result arrives later via onChange.
   */
  send(sourceKey: string, podName: string, state: ApplyStatePayload): void {
    const session = this.sessions.get(sourceKey)?.get(podName);
    if (!session) return;
    // A fresh id per send: the adapter applies a generation it already runs as an idempotent success, so
    // a resend by a restarted operator (whose old session is gone) still gets a result of its own.
    const commandId = `${session.pod.uid}/g${state.generation}/${newCommandId().slice(0, 8)}`;
    const key = sinkKey(state.sink);
    session.lastSent = {
      commandId,
      generation: state.generation,
      paused: state.paused,
      ...(key ? { sinkKey: key } : {}),
      ...(state.sink?.audience ? { audience: state.sink.audience } : {}),
    };
    this.commands.pending(sourceKey, podName, commandId);
    session.client
      .sendAndWaitForAck(OP_APPLY_STATE, state, { id: commandId, timeoutMs: 0 })
      .catch((err: unknown) => {
        if (session.lastSent?.commandId !== commandId) return;
        const rejected = err instanceof CommandRejectedError;
        this.commands.record(sourceKey, podName, {
          commandId,
          succeeded: false,
          reason: rejected ? `Rejected${err.code ? `:${err.code}` : ''}` : 'SendFailed',
          message: (err as Error).message,
        });
      });
  }

  /**
   * The token the adapters of `sourceKey` must present to their sink (undefined: none any more).
   * Sent at once to every connected pod, and to each pod again whenever its stream (re)opens.
   */
  setSinkToken(
    sourceKey: string,
    grant: { audience: string; token: string; expiresAt: Date } | undefined,
  ): void {
    if (!grant) {
      this.sinkTokens.delete(sourceKey);
      return;
    }
    const payload: SetSinkTokenPayload = {
      audience: grant.audience,
      token: grant.token,
      expiresAt: grant.expiresAt.toISOString(),
    };
    this.sinkTokens.set(sourceKey, payload);
    for (const session of this.sessions.get(sourceKey)?.values() ?? [])
      if (session.client.state === 'ready') this.sendSinkToken(sourceKey, session, payload);
  }

  // A plain reliable command: the ack means stored. Neither the log nor the error carries the token.
  private sendSinkToken(sourceKey: string, session: PodSession, payload: SetSinkTokenPayload): void {
    session.client
      .sendAndWaitForAck(OP_SET_SINK_TOKEN, payload, { timeoutMs: 0 })
      .then(() =>
        this.options.logger.debug(
          {
            source: sourceKey,
            pod: session.pod.name,
            audience: payload.audience,
            expiresAt: payload.expiresAt,
          },
          'sink token delivered',
        ),
      )
      .catch((err: unknown) =>
        this.options.logger.warn(
          {
            source: sourceKey,
            pod: session.pod.name,
            audience: payload.audience,
            error: redactTokenIn((err as Error).message, payload.token),
          },
          'sink token not accepted by the adapter',
        ),
      );
  }

  /** Closes every session of a source (it was deleted, or this replica stopped leading). */
  forget(sourceKey: string): void {
    for (const session of this.sessions.get(sourceKey)?.values() ?? []) this.closeSession(sourceKey, session);
    this.sessions.delete(sourceKey);
    this.commands.forgetResource(sourceKey);
  }

  /** Closes every session. */
  async closeAll(): Promise<void> {
    const all = [...this.sessions.values()].flatMap((m) => [...m.values()]);
    for (const sourceKey of this.sessions.keys()) this.commands.forgetResource(sourceKey);
    for (const session of all) session.lastSent = undefined; // their late outcomes are nobody's now
    this.sessions.clear();
    await Promise.all(all.map((s) => s.client.close().catch(() => undefined)));
  }

  /**
   * The pod informer saw `pod` turn Ready: if we hold a session to that very pod (same UID and IP) that is not
   * connected, it dials now rather than at its next backoff step (see dial-on-ready.ts). Otherwise nothing: a new
   * pod gets its session from the reconcile its event triggers.
   */
  podReady(sourceKey: string, pod: AdapterPod): void {
    if (!this.active) return;
    const session = this.sessions.get(sourceKey)?.get(pod.name);
    if (!session || session.pod.uid !== pod.uid || session.pod.ip !== pod.ip) return;
    if (session.client.state !== 'ready') session.client.reconnectNow();
  }

  /** Number of open sessions (for metrics and tests). */
  get size(): number {
    let n = 0;
    for (const m of this.sessions.values()) n += m.size;
    return n;
  }

  private openSession(sourceKey: string, namespace: string, name: string, pod: AdapterPod): PodSession {
    const log = this.options.logger.child({ source: sourceKey, pod: pod.name, podIP: pod.ip });
    const client = new ControlClient({
      target: `${pod.ip}:${this.options.controlPort ?? 9443}`,
      tls: this.options.tls,
      identity: this.options.identity,
      expectedServerIdentity: adapterIdentity(namespace, name),
      serverName: adapterServerName(namespace, name),
      // Sessions exist only for Ready pods, so a pod that stops listening is a restart in progress:
      // a 1 s cap brings the session (and the resent state) back within a second of the pod listening.
      backoff: { initialMs: 100, maxMs: this.options.reconnectCapMs ?? 1_000, multiplier: 2, jitter: 0.2 },
      logger: log,
      ...(this.options.metrics ? { metrics: this.options.metrics } : {}),
    });
    const session: PodSession = { pod, client };
    client.onResult((result) => this.onResult(sourceKey, session, result));
    client.onNotification((n) => this.onNotification(sourceKey, session, n, log));
    client.onStateChange((state, detail) => {
      log.info({ state, detail }, 'control session state');
      if (state === 'ready') {
        // A new stream may lead to a restarted adapter that holds no token: give it the current one.
        const token = this.sinkTokens.get(sourceKey);
        if (token) this.sendSinkToken(sourceKey, session, token);
        this.options.onChange(sourceKey);
      }
    });
    client.start();
    log.info('control session opened');
    return session;
  }

  private closeSession(sourceKey: string, session: PodSession): void {
    this.options.logger.info({ source: sourceKey, pod: session.pod.name }, 'control session closed');
    // Late outcomes of a closed session (a ClosedError from close) must not land in the store.
    session.lastSent = undefined;
    this.commands.forgetPod(sourceKey, session.pod.name);
    void session.client.close().catch(() => undefined);
  }

  private onResult(sourceKey: string, session: PodSession, result: CommandResult): void {
    const sent = session.lastSent;
    if (sent?.commandId !== result.commandId) return; // a result for a superseded send
    this.commands.record(sourceKey, session.pod.name, result); // re-queues the source when it changed
    // A sink moved to a new audience: the adapter refused that audience's token until this ApplyState
    // was applied (the token is often minted first), so it follows now. A repeat is harmless.
    const token = this.sinkTokens.get(sourceKey);
    if (result.succeeded && token && sent.audience === token.audience)
      this.sendSinkToken(sourceKey, session, token);
  }

  private onNotification(sourceKey: string, session: PodSession, n: Notification, log: Logger): void {
    if (n.type !== NOTIFICATION_ADAPTER_STATE) return;
    const parsed = AdapterStateSchema.safeParse(n.data);
    if (!parsed.success) {
      log.warn({ error: parsed.error.message }, 'adapter sent a malformed state notification; ignored');
      return;
    }
    const before = session.adapterState;
    session.adapterState = parsed.data;
    // An adapter that restarted has forgotten what it applied: what we believed applied must be sent again.
    const last = session.lastSent;
    const lastState = last && this.commands.get(sourceKey, session.pod.name, last.commandId)?.state;
    if (last && lastState === 'succeeded' && parsed.data.generation < last.generation) {
      log.info(
        { applied: parsed.data.generation, expected: last.generation },
        'adapter lost its state; resending',
      );
      session.lastSent = undefined;
    }
    const configChanged =
      !before ||
      before.generation !== parsed.data.generation ||
      before.paused !== parsed.data.paused ||
      before.intervalMs !== parsed.data.intervalMs;
    // Delivery health (SinkReachable) re-queues only when it crosses a threshold.
    const healthChanged = healthSignature(before) !== healthSignature(parsed.data);
    if (configChanged || healthChanged || session.lastSent === undefined) this.options.onChange(sourceKey);
  }
}
