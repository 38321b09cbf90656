// Delivery of one CloudEvent to the sink: HTTP binary mode with the binding's percent-encoded
// header values, bounded retries as Knative's dispatcher does them (404, 408, 409, 429, 5xx and
// network errors; never another 4xx), exponential backoff with upward jitter whose delays never
// fall below the base nor shrink, Retry-After honoured (capped), a per-attempt timeout so that a
// hung sink cannot hold a send for ever, and an abort signal for shutdown.
import { HTTP, type CloudEvent } from 'cloudevents';
import { Agent, fetch } from 'undici';
import { encodeCeHeaders } from './ce-headers.js';
import { backoffDelay as exponentialBackoff } from '../control/backoff.js';

/** How a send is retried. */
export interface RetryPolicy {
  /** Retries after the first attempt. Default 4. */
  retries: number;
  /** First backoff delay. Default 100 ms. */
  initialDelayMs: number;
  /** Largest delay between attempts, Retry-After included (its cap). Default 5 s. */
  maxDelayMs: number;
  /** Per-attempt timeout. Default 5 s. */
  attemptTimeoutMs: number;
}

/** Defaults of {@link RetryPolicy}. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 4,
  initialDelayMs: 100,
  maxDelayMs: 5_000,
  attemptTimeoutMs: 5_000,
};

/** Outcome of one delivery, after all its attempts. */
export type SendOutcome =
  | { ok: true; status: number; attempts: number; latencyMs: number }
  | {
      ok: false;
      error: string;
      status?: number;
      attempts: number;
      retryable: boolean;
      aborted: boolean;
      /** Not sent at all: the sink wants a token and none is in force (attempts is 0). */
      noToken?: boolean;
    };

/**
 * The `Authorization` header of the next attempt, or why the event must not go out (an OIDC sink
 * before its first token). Asked before every attempt, so a refreshed token applies to retries.
 */
export type SinkAuthorizer = () => { ok: true; header?: string } | { ok: false; reason: string };

/** Observers of each attempt, for metrics and logs. */
export interface SendHooks {
  /** Called after every attempt with its duration and whether it succeeded. */
  onAttempt?(durationMs: number, ok: boolean): void;
  /** Called before each retry. */
  onRetry?(attempt: number, delayMs: number, reason: string): void;
}

class AttemptError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** Client errors Knative redelivers on (kncloudevents' retry check): 404, 408, 409, 429. */
export const RETRYABLE_CLIENT_STATUSES: ReadonlySet<number> = new Set([404, 408, 409, 429]);

/** True for statuses Knative redelivers on: 404, 408, 409, 429 and every 5xx. */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_CLIENT_STATUSES.has(status) || (status >= 500 && status <= 599);
}

/** Parses a Retry-After header (delta-seconds or HTTP-date) into milliseconds from `now`; undefined if absent or bad. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1_000;
  const when = Date.parse(text);
  if (Number.isNaN(when)) return undefined;
  return Math.max(0, when - now);
}

/** Upward jitter of a backoff step: up to +50 % of the nominal delay. */
export const BACKOFF_JITTER = 0.5;

/**
 * Delay before retry number `attempt + 1` (attempt 0 is the first failure): the nominal
 * initial·2^attempt plus up to {@link BACKOFF_JITTER} of it, never below `previousMs` (the delay
 * used before the last retry, so delays never shrink), and within [initial, max(initial, max)].
 * Jitter is upward only (unlike full jitter) so that no delay falls below the base.
 */
export function backoffDelay(
  attempt: number,
  policy: Pick<RetryPolicy, 'initialDelayMs' | 'maxDelayMs'>,
  previousMs = 0,
  random: () => number = Math.random,
): number {
  const floor = policy.initialDelayMs;
  const cap = Math.max(floor, policy.maxDelayMs);
  // The tree's one exponential backoff (control/backoff.ts), jittered upward only, whole milliseconds.
  const jittered = Math.round(
    exponentialBackoff(
      attempt,
      { initialMs: floor, maxMs: cap, multiplier: 2, jitter: BACKOFF_JITTER, upwardJitter: true },
      random,
    ),
  );
  return Math.min(cap, Math.max(floor, previousMs, jittered));
}

/**
 * Delay before the next retry given the sink's Retry-After (if any): at least the backoff
 * delay, at least Retry-After, never more than `maxDelayMs` (which caps Retry-After) unless the
 * previous delay already was (delays never shrink).
 */
export function retryDelay(
  attempt: number,
  policy: Pick<RetryPolicy, 'initialDelayMs' | 'maxDelayMs'>,
  previousMs: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const backoff = backoffDelay(attempt, policy, previousMs, random);
  const cap = Math.max(policy.initialDelayMs, policy.maxDelayMs);
  return retryAfterMs === undefined ? backoff : Math.max(backoff, Math.min(cap, retryAfterMs));
}

/** How a sender waits and draws jitter; tests pass virtual ones. */
export interface SenderTiming {
  /** Waits `ms`, rejecting when `signal` fires. Default: a real timer. */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1). Default Math.random. */
  random: () => number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

// One object for every sender (a pool pod holds thousands).
const REAL_TIMING: SenderTiming = { sleep, random: Math.random };

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message ?? String(err)} (${cause})` : (e.message ?? String(err));
}

/** How the sender trusts an HTTPS sink. */
export interface SinkTls {
  /**
   * PEM CA certificates (Knative's Destination.CACerts): the sink is verified with exactly these,
   * the default roots no longer apply. Default: Node's default roots.
   */
  caCerts?: string;
  /** OIDC sinks: the bearer token to present (see adapter/sink-token.ts). Default: none sent. */
  authorize?: SinkAuthorizer;
  /**
   * A connection pool shared with other senders (a pool pod shares one per CA set); it must
   * already trust `caCerts`, and the sender never closes it. Default: the sender's own.
   */
  dispatcher?: Agent;
}

/** Where requests go and how the sink is trusted: one connection pool per target. */
interface Target {
  url: URL;
  // Our own connection pool, so that the CA set applies to this sink and nothing else (or one
  // handed in, shared by senders of the same CA set, which we never close).
  dispatcher: Agent;
  ownsDispatcher: boolean;
  authorize: SinkAuthorizer | undefined;
}

function target(url: URL, tls: SinkTls): Target {
  return {
    url,
    dispatcher: tls.dispatcher ?? new Agent(tls.caCerts ? { connect: { ca: tls.caCerts } } : {}),
    ownsDispatcher: !tls.dispatcher,
    authorize: tls.authorize,
  };
}

/**
 * Sends CloudEvents to one sink URL, which {@link SinkSender.setTarget} can move live (issue 13:
 * a changed sink reaches the adapter over the control stream, not by a pod restart).
 */
export class SinkSender {
  private current: Target;
  // Pools of earlier targets, closing once the attempts they carry have finished.
  private readonly retiring = new Set<Promise<void>>();

  constructor(
    sink: URL,
    private readonly policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    private readonly hooks: SendHooks = {},
    private readonly timing: SenderTiming = REAL_TIMING,
    tls: SinkTls = {},
  ) {
    this.current = target(sink, tls);
  }

  /** The sink URL requests go to now. */
  get sink(): URL {
    return this.current.url;
  }

  /**
   * Moves the sender to another sink URL and trust (CAs, token). Attempts already on the wire finish
   * against the old target (its pool closes gracefully once they have); every later attempt, retries
   * of events sent before the move included, goes to the new one. Nothing is dropped by the move.
   */
  setTarget(sink: URL, tls: SinkTls = {}): void {
    const old = this.current;
    this.current = target(sink, tls);
    if (!old.ownsDispatcher) return;
    const closing: Promise<void> = old.dispatcher
      .close()
      .catch(() => undefined)
      .finally(() => this.retiring.delete(closing));
    this.retiring.add(closing);
  }

  /** Closes the connection pools (the current one unless it was handed in shared, and any still retiring). */
  async close(): Promise<void> {
    const own = this.current.ownsDispatcher ? [this.current.dispatcher.close()] : [];
    await Promise.all([...own, ...this.retiring]);
  }

  /** Delivers one event, retrying transient failures; never throws. `signal` abandons it (shutdown). */
  async send(event: CloudEvent<unknown>, signal: AbortSignal): Promise<SendOutcome> {
    const message = HTTP.binary(event);
    const plain: Record<string, string> = {};
    for (const [key, value] of Object.entries(message.headers)) {
      if (value !== undefined) plain[key] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    // Built once: every redelivery carries the very same attributes (id, source, …).
    const headers = encodeCeHeaders(plain);
    const body =
      typeof message.body === 'string' || Buffer.isBuffer(message.body)
        ? message.body
        : JSON.stringify(message.body);
    const started = performance.now();
    let previousDelay = 0;
    for (let attempt = 0; ; attempt++) {
      // One target per attempt: a move between attempts sends the retry to the new sink.
      const to = this.current;
      const auth = to.authorize?.();
      if (auth && !auth.ok) {
        // Never unauthenticated to a sink that wants a token: not sent, not retried.
        return {
          ok: false,
          error: auth.reason,
          attempts: attempt,
          retryable: false,
          aborted: false,
          noToken: true,
        };
      }
      try {
        const status = await this.attempt(
          to,
          auth?.header ? { ...headers, authorization: auth.header } : headers,
          body,
          signal,
        );
        return { ok: true, status, attempts: attempt + 1, latencyMs: performance.now() - started };
      } catch (err) {
        const aborted = signal.aborted;
        const failure =
          err instanceof AttemptError
            ? err
            : new AttemptError(describe(err), !aborted /* network errors are transient */);
        if (aborted || !failure.retryable || attempt >= this.policy.retries) {
          return {
            ok: false,
            error: aborted ? `abandoned: ${describe(signal.reason)}` : failure.message,
            status: failure.status,
            attempts: attempt + 1,
            retryable: failure.retryable,
            aborted,
          };
        }
        const delay = retryDelay(
          attempt,
          this.policy,
          previousDelay,
          failure.retryAfterMs,
          this.timing.random,
        );
        previousDelay = delay;
        this.hooks.onRetry?.(attempt + 1, delay, failure.message);
        try {
          await this.timing.sleep(delay, signal);
        } catch {
          return {
            ok: false,
            error: `abandoned: ${describe(signal.reason)}`,
            attempts: attempt + 1,
            retryable: true,
            aborted: true,
          };
        }
      }
    }
  }

  private async attempt(
    to: Target,
    headers: Record<string, string>,
    body: string | Buffer,
    signal: AbortSignal,
  ): Promise<number> {
    const started = performance.now();
    let ok = false;
    // The attempt's own signal: aborted by `signal` or by the attempt timeout, and let go of both
    // as soon as the attempt ends. AbortSignal.any with AbortSignal.timeout would keep the
    // composite (and the finished request it holds) alive on the long-lived `signal` until the
    // timeout fires, which is thousands of finished sends in a pool pod.
    const attempt = new AbortController();
    const onAbort = () => attempt.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const timeout = setTimeout(
      () => attempt.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
      this.policy.attemptTimeoutMs,
    );
    timeout.unref();
    try {
      const response = await fetch(to.url, {
        dispatcher: to.dispatcher,
        method: 'POST',
        headers,
        body,
        // Sinks do not redirect; following one would turn a POST into a GET.
        redirect: 'manual',
        signal: attempt.signal,
      });
      // Drain the body so the keep-alive connection can be reused.
      await response.arrayBuffer().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) {
        ok = true;
        return response.status;
      }
      throw new AttemptError(
        `sink answered ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
        isRetryableStatus(response.status),
        response.status,
        parseRetryAfter(response.headers.get('retry-after')),
      );
    } finally {
      clearTimeout(timeout);
      signal.removeEventListener('abort', onAbort);
      this.hooks.onAttempt?.(performance.now() - started, ok);
    }
  }
}
