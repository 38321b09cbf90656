// OIDC tokens for sinks: per source with an audience, a ServiceAccount token minted with the
// TokenRequest API (serviceaccounts/token create), handed to the control sessions, and minted
// again at 80 % of its lifetime, so the adapters always hold a valid one and never need
// Kubernetes access themselves. A leader-bound runnable: only the leader mints, and a lost lease
// cancels every refresh. Timers run on the injected clock, so refresh is tested on virtual time.
import type { Logger } from 'pino';
import { z } from 'zod';
import { backoffDelay } from '../../control/backoff.js';
import { SYSTEM_CLOCK, type Clock, type ClockTimer } from '../../control/clock.js';
import { redactTokenIn } from '../../contract/sink-token.js';
import { aborted, type KubeClient, type Runnable } from '../runtime/index.js';

/** Lifetime asked of each token unless configured: 3600 s (TokenRequest's own default; its minimum is 600 s). */
export const DEFAULT_TOKEN_EXPIRATION_SECONDS = 3_600;
/** Fraction of a token's lifetime after which it is replaced: 0.8 (as the kubelet refreshes projected tokens). */
export const DEFAULT_REFRESH_FRACTION = 0.8;

/** A token for one source's sink. */
export interface SinkTokenGrant {
  audience: string;
  token: string;
  expiresAt: Date;
}

/** Options of {@link SinkTokens}. */
export interface SinkTokensOptions {
  client: KubeClient;
  /** Called with each new token of a source (and with undefined once the source needs none). */
  onToken: (sourceKey: string, grant: SinkTokenGrant | undefined) => void;
  logger: Logger;
  /** Timers (refresh, retry). Default the system clock. */
  clock?: Clock;
  /** Wall time, to turn the token's expirationTimestamp into a lifetime. Default `new Date()`. */
  now?: () => Date;
  /** Default {@link DEFAULT_TOKEN_EXPIRATION_SECONDS}. */
  expirationSeconds?: number;
  /** Default {@link DEFAULT_REFRESH_FRACTION}. */
  refreshFraction?: number;
  /** Backoff of a failed mint: 1 s doubling to 30 s unless given. */
  retry?: { initialMs: number; maxMs: number };
}

// What the TokenRequest answer must hold; the token is never part of an error message.
const TokenRequestStatusSchema = z.object({
  status: z.object({
    token: z.string().min(1),
    expirationTimestamp: z.iso.datetime({ offset: true }),
  }),
});

interface Wanted {
  namespace: string;
  serviceAccount: string;
  audience: string;
  grant?: SinkTokenGrant;
  timer?: ClockTimer;
  failures: number;
  /** Bumped on every change of what is wanted, so a mint that finishes late for an old wish is dropped. */
  epoch: number;
}

/** Mints and refreshes sink tokens; add it to the manager (it needs leader election). */
export class SinkTokens implements Runnable {
  readonly name = 'sink-tokens';
  readonly needLeaderElection = true;
  private readonly wanted = new Map<string, Wanted>();
  private readonly clock: Clock;
  private readonly now: () => Date;
  private active = false;

  constructor(private readonly options: SinkTokensOptions) {
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.now = options.now ?? (() => new Date());
  }

  /** One leadership term: tokens are minted until `signal` aborts, then every timer is cancelled. */
  async run(signal: AbortSignal): Promise<void> {
    this.active = true;
    await aborted(signal);
    this.active = false;
    for (const key of [...this.wanted.keys()]) this.forget(key);
  }

  /** Starts the term without a manager (tests). */
  activate(): void {
    this.active = true;
  }

  /**
   * Source `sourceKey` needs tokens of `serviceAccount` (in `namespace`) for `audience`. Idempotent:
   * the same wish again changes nothing; a new audience or account mints at once. Never blocks.
   */
  want(sourceKey: string, namespace: string, serviceAccount: string, audience: string): void {
    if (!this.active) return;
    const current = this.wanted.get(sourceKey);
    if (
      current &&
      current.namespace === namespace &&
      current.serviceAccount === serviceAccount &&
      current.audience === audience
    )
      return;
    current?.timer?.cancel();
    const entry: Wanted = {
      namespace,
      serviceAccount,
      audience,
      failures: 0,
      epoch: (current?.epoch ?? 0) + 1,
    };
    this.wanted.set(sourceKey, entry);
    void this.mint(sourceKey, entry);
  }

  /** The source's token in force, if one was minted and has not expired. */
  current(sourceKey: string): SinkTokenGrant | undefined {
    const grant = this.wanted.get(sourceKey)?.grant;
    return grant && grant.expiresAt.getTime() > this.now().getTime() ? grant : undefined;
  }

  /** The source needs no token any more (no audience, deleted, lease lost): stop refreshing. */
  forget(sourceKey: string): void {
    const entry = this.wanted.get(sourceKey);
    if (!entry) return;
    entry.timer?.cancel();
    entry.epoch++;
    this.wanted.delete(sourceKey);
    this.options.onToken(sourceKey, undefined);
  }

  /** Sources with tokens wanted (metrics, tests). */
  get size(): number {
    return this.wanted.size;
  }

  private async mint(sourceKey: string, entry: Wanted): Promise<void> {
    if (!this.active || this.wanted.get(sourceKey) !== entry) return;
    const epoch = entry.epoch;
    const log = this.options.logger.child({
      source: sourceKey,
      serviceAccount: entry.serviceAccount,
      audience: entry.audience,
    });
    try {
      const path = `/api/v1/namespaces/${entry.namespace}/serviceaccounts/${entry.serviceAccount}/token`;
      const answer = await this.options.client.request('POST', path, {
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: {
            audiences: [entry.audience],
            expirationSeconds: this.options.expirationSeconds ?? DEFAULT_TOKEN_EXPIRATION_SECONDS,
          },
        },
      });
      const parsed = TokenRequestStatusSchema.safeParse(answer);
      if (!parsed.success) throw new Error('the TokenRequest answer has no token or expirationTimestamp');
      if (entry.epoch !== epoch || this.wanted.get(sourceKey) !== entry) return; // wish changed meanwhile
      const grant: SinkTokenGrant = {
        audience: entry.audience,
        token: parsed.data.status.token,
        expiresAt: new Date(parsed.data.status.expirationTimestamp),
      };
      entry.grant = grant;
      entry.failures = 0;
      const lifetimeMs = Math.max(0, grant.expiresAt.getTime() - this.now().getTime());
      const refreshInMs = Math.max(
        1_000,
        lifetimeMs * (this.options.refreshFraction ?? DEFAULT_REFRESH_FRACTION),
      );
      entry.timer = this.clock.setTimer(() => void this.mint(sourceKey, entry), refreshInMs).unref();
      log.info(
        { expiresAt: grant.expiresAt.toISOString(), refreshInMs: Math.round(refreshInMs) },
        `minted a sink token for audience ${entry.audience}; refresh in ${Math.round(refreshInMs / 1000)}s`,
      );
      this.options.onToken(sourceKey, grant);
    } catch (err) {
      if (entry.epoch !== epoch || this.wanted.get(sourceKey) !== entry) return;
      const delay = backoffDelay(entry.failures++, {
        initialMs: this.options.retry?.initialMs ?? 1_000,
        maxMs: this.options.retry?.maxMs ?? 30_000,
        multiplier: 2,
        jitter: 0.2,
      });
      // The previous token (if any) stays in force until it expires; only a new one is late.
      const message = redactTokenIn((err as Error).message, entry.grant?.token);
      log.warn({ error: message, retryInMs: Math.round(delay) }, `minting a sink token failed: ${message}`);
      entry.timer = this.clock.setTimer(() => void this.mint(sourceKey, entry), delay).unref();
    }
  }
}
