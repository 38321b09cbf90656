// Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection package.
// Expiry is judged by the local time at which we last saw the lease change, never by the
// holder's timestamps, so clock skew between replicas does not matter.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { isAlreadyExists, isConflict, isNotFound, type KubeClient } from './client.js';
import { SYSTEM_CLOCK, sleepOn, type Clock } from '../../control/clock.js';
import { deepEqual } from './status.js';
import type { RuntimeMetrics } from './metrics.js';
import { silentLogger, type Logger } from './logger.js';

/** Options of {@link LeaderElector}. */
export interface LeaderElectionOptions {
  /** Namespace of the Lease. */
  namespace: string;
  /** Name of the Lease. */
  name: string;
  /** This candidate's identity. Default: hostname plus a random suffix. */
  identity?: string;
  /** How long a lease is valid without renewal. Default 15 s (whole seconds on the wire). */
  leaseDurationMs?: number;
  /** The leader gives up if it could not renew for this long. Default 10 s. */
  renewDeadlineMs?: number;
  /** Time between attempts to acquire or renew. Default 2 s. */
  retryPeriodMs?: number;
  /** Release the lease when stopped while leading, so a successor need not wait for expiry. Default true. */
  releaseOnCancel?: boolean;
  logger?: Logger;
  metrics?: RuntimeMetrics;
  /** What the retry period, renew deadline and lease expiry are measured on. Default: the system clock. */
  clock?: Clock;
}

/** Callbacks of {@link LeaderElector.run}. */
export interface LeaderCallbacks {
  /** Became leader; `signal` aborts when leadership ends. */
  onStartedLeading(signal: AbortSignal): void;
  /** Lost (or gave up) leadership. */
  onStoppedLeading(): void;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** Lease times are MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Campaigns for a Lease and keeps renewing it while leading. */
export class LeaderElector {
  readonly identity: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly path: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private observed?: LeaseSpec;
  private observedAt = 0;
  private leading = false;

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaderElectionOptions,
  ) {
    this.identity = options.identity ?? `${hostname()}_${randomBytes(4).toString('hex')}`;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.clock = options.clock ?? SYSTEM_CLOCK;
    if (this.renewDeadlineMs >= this.leaseDurationMs)
      throw new Error('renewDeadline must be shorter than leaseDuration');
    if (this.retryPeriodMs >= this.renewDeadlineMs)
      throw new Error('retryPeriod must be shorter than renewDeadline');
    this.path = `/apis/coordination.k8s.io/v1/namespaces/${options.namespace}/leases/${options.name}`;
    this.log = (options.logger ?? silentLogger()).child({
      lease: `${options.namespace}/${options.name}`,
      identity: this.identity,
    });
  }

  /** True while this candidate believes it holds the lease. */
  isLeader(): boolean {
    return this.leading;
  }

  /** The holder we last observed ("" if none). */
  observedLeader(): string {
    return this.observed?.holderIdentity ?? '';
  }

  /**
   * Campaigns until `signal` aborts: acquire, lead (renewing) until renewal fails for longer
   * than the renew deadline, then campaign again. On abort while leading, releases the lease.
   */
  async run(callbacks: LeaderCallbacks, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (!(await this.acquire(signal))) break;
      this.setLeading(true);
      const leadership = new AbortController();
      this.log.info('acquired the lease; leading');
      callbacks.onStartedLeading(leadership.signal);
      await this.renewLoop(signal);
      this.setLeading(false);
      leadership.abort();
      callbacks.onStoppedLeading();
      if (signal.aborted) {
        if (this.options.releaseOnCancel ?? true) await this.release();
        break;
      }
      this.log.warn('lost the lease; stopped leading');
    }
  }

  /** Gives the lease up (holder cleared, 1 s duration) so a successor need not wait for expiry. */
  async release(): Promise<void> {
    try {
      const lease = await this.client.request<Lease>('GET', this.path, { timeoutMs: this.renewDeadlineMs });
      if (lease.spec?.holderIdentity !== this.identity) return;
      const now = microTime(new Date());
      await this.client.request('PUT', this.path, {
        timeoutMs: this.renewDeadlineMs,
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: undefined,
            leaseDurationSeconds: 1,
            renewTime: now,
            acquireTime: now,
          },
        },
      });
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message },
        'could not release the lease; successors wait for it to expire',
      );
    }
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.options.metrics?.isLeader.set({ lease: this.options.name }, leading ? 1 : 0);
  }

  private async acquire(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew()) return true;
      // Jittered like client-go (factor 1.2) so candidates do not collide in lockstep.
      await sleepOn(this.clock, this.retryPeriodMs * (1 + Math.random() * 1.2), signal);
    }
    return false;
  }

  private async renewLoop(signal: AbortSignal): Promise<void> {
    let lastRenew = this.clock.now();
    while (!signal.aborted) {
      await sleepOn(this.clock, this.retryPeriodMs, signal);
      if (signal.aborted) return;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = this.clock.now();
      } else if (
        this.clock.now() - lastRenew >= this.renewDeadlineMs ||
        this.observedLeader() !== this.identity
      ) {
        // Past the deadline, or someone else holds it now: stop leading at once.
        return;
      }
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const durationSeconds = Math.max(1, Math.ceil(this.leaseDurationMs / 1000));
    // A hung request must not outlast the renew deadline.
    const timeoutMs = Math.max(250, Math.floor(this.renewDeadlineMs / 2));
    const now = new Date();
    let lease: Lease;
    try {
      lease = await this.client.request<Lease>('GET', this.path, { timeoutMs });
    } catch (err) {
      if (!isNotFound(err)) {
        this.log.debug({ err: (err as Error).message }, 'cannot read the lease');
        return false;
      }
      const spec: LeaseSpec = {
        holderIdentity: this.identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: 0,
      };
      try {
        await this.client.request('POST', this.path.replace(/\/[^/]+$/, ''), {
          timeoutMs,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.options.name, namespace: this.options.namespace },
            spec,
          },
        });
        this.observe(spec);
        return true;
      } catch (createErr) {
        if (!isAlreadyExists(createErr))
          this.log.debug({ err: (createErr as Error).message }, 'cannot create the lease');
        return false;
      }
    }

    const spec = lease.spec ?? {};
    if (!deepEqual(spec, this.observed)) this.observe(spec);
    const holder = spec.holderIdentity ?? '';
    const validUntil = this.observedAt + (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (holder !== '' && holder !== this.identity && validUntil > this.clock.now()) return false;

    const renewing = holder === this.identity;
    const next: LeaseSpec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: renewing && spec.acquireTime ? spec.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: renewing ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
    };
    try {
      // PUT carries the resourceVersion we read: two candidates cannot both win.
      await this.client.request('PUT', this.path, { timeoutMs, body: { ...lease, spec: next } });
      this.observe(next);
      return true;
    } catch (err) {
      if (!isConflict(err)) this.log.debug({ err: (err as Error).message }, 'cannot update the lease');
      return false;
    }
  }

  private observe(spec: LeaseSpec): void {
    this.observed = spec;
    this.observedAt = this.clock.now();
  }
}
