// PoolSessions bound to leadership: a leader-bound runnable of the manager. Each term gets a fresh
// PoolSessions (nothing of a previous term's placement or sessions can leak into the next), fed the
// latest pool members at once; the controller's start re-queues every source, whose reconciles
// upsert the shared ones again. Outside a term it steers nothing, like AdapterSessions.
import { aborted, type Runnable } from '../runtime/index.js';
import {
  PoolSessions,
  type PoolPod,
  type PoolSessionsOptions,
  type SharedSource,
  type SharedSourceStatus,
} from './pool-sessions.js';

/** Options of {@link PoolRunnable}: those of the PoolSessions it starts each term. */
export type PoolRunnableOptions = PoolSessionsOptions;

/** What the reconciler needs of the pool (PoolRunnable, or a fake in table tests). */
export interface PoolPort {
  upsertSource(source: SharedSource): void;
  removeSource(key: string): void;
  status(key: string): SharedSourceStatus | undefined;
  /** The last sequence the pool knows for incarnation `uid` of a source it no longer holds (see PoolSessions.sequenceFloor). */
  sequenceFloor(uid: string): number | undefined;
  /**
   * Whether the pool is about to report on the source by itself (its change callback re-queues it
   * soon): its desired generation is on its way to a pod, or placed at the next placement pass.
   */
  settling(key: string): boolean;
}

/** The shared pool's control sessions, one term at a time. Add it to the manager. */
export class PoolRunnable implements Runnable, PoolPort {
  readonly name = 'pool-sessions';
  readonly needLeaderElection = true;
  private current: PoolSessions | undefined;
  private members: PoolPod[] = [];

  constructor(private readonly options: PoolRunnableOptions) {}

  async run(signal: AbortSignal): Promise<void> {
    const sessions = new PoolSessions(this.options);
    sessions.setPods(this.members);
    sessions.start();
    this.current = sessions;
    try {
      await aborted(signal);
    } finally {
      this.current = undefined;
      // Closing the sessions is enough: each pool pod's lease stops its sources within seconds.
      await sessions.stop();
    }
  }

  /** The pool's member pods (replaces the previous set); kept for the next term too. */
  setPods(pods: PoolPod[]): void {
    const same =
      pods.length === this.members.length &&
      pods.every((p, i) => p.name === this.members[i]?.name && p.target === this.members[i]?.target);
    if (same) return;
    this.members = pods;
    this.options.logger.info({ pods: pods.map((p) => p.name) }, 'pool members changed');
    this.current?.setPods(pods);
  }

  /** Places or updates a shared source; a no-op outside a term (a reconcile outliving the lease). */
  upsertSource(source: SharedSource): void {
    this.current?.upsertSource(source);
  }

  /** Removes a shared source; its owner releases it. A no-op outside a term. */
  removeSource(key: string): void {
    this.current?.removeSource(key);
  }

  /** Where a shared source stands; undefined outside a term or when the pool does not hold it. */
  status(key: string): SharedSourceStatus | undefined {
    return this.current?.status(key);
  }

  /** The last sequence the pool knows for a source it let go; undefined outside a term or when none is known. */
  sequenceFloor(uid: string): number | undefined {
    return this.current?.sequenceFloor(uid);
  }

  /** Whether the pool will report on the source by itself soon; false outside a term. */
  settling(key: string): boolean {
    return this.current?.settling(key) ?? false;
  }

  /** Number of member pods (for logs and tests). */
  get size(): number {
    return this.members.length;
  }
}
