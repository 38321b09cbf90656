// Runnables: work the manager starts and stops alongside its controllers, like controller-runtime's
// Runnable with NeedLeaderElection. A leader-bound runnable (the default) runs once per leadership
// term: started when the lease is won, its signal aborted the moment the lease is lost or the
// manager stops, so nothing a follower should not do (steering adapters, say) outlives leadership.
import type { Logger } from './logger.js';

/** Something the manager runs: `manager.add(runnable)`. */
export interface Runnable {
  /** Used in logs. */
  readonly name: string;
  /** Run only while this replica leads (one run per leadership term). Default true. */
  readonly needLeaderElection?: boolean;
  /**
   * Runs until `signal` aborts, then cleans up; the promise settles once it has. Called again for
   * every new term, never while a previous run is still settling. A rejection is logged.
   */
  run(signal: AbortSignal): Promise<void>;
}

/** Whether `runnable` runs only while leading (the default). */
export function needsLeaderElection(runnable: Runnable): boolean {
  return runnable.needLeaderElection ?? true;
}

/**
 * Runs a set of runnables as one: `start` begins a term (deferred until the previous term has
 * settled), `stop` aborts it and resolves when every run has returned. Idempotent both ways.
 */
export class RunnableGroup {
  private readonly runnables: Runnable[] = [];
  private term?: { abort: AbortController; runs: Promise<void>[] };
  /** The previous term, while its runs are still returning. */
  private settling?: Promise<void>;
  private deferred = false;
  /** Cleared by stop(), so a start deferred behind a settling term does not resurrect it. */
  private wanted = false;

  constructor(private readonly log: Logger) {}

  /** Adds a runnable; it joins the current term at once when the group is running. */
  add(runnable: Runnable): void {
    this.runnables.push(runnable);
    if (this.term) this.term.runs.push(this.launch(runnable, this.term.abort.signal));
  }

  /** True while a term is running. */
  get running(): boolean {
    return this.term !== undefined;
  }

  /** Starts a term, once the previous one has settled. */
  start(): void {
    this.wanted = true;
    if (this.term || this.deferred) return;
    if (this.settling) {
      this.deferred = true;
      void this.settling.then(() => {
        this.deferred = false;
        if (this.wanted) this.start();
      });
      return;
    }
    const abort = new AbortController();
    this.term = { abort, runs: this.runnables.map((r) => this.launch(r, abort.signal)) };
  }

  /** Aborts the current term; resolves when every run of it has returned. */
  stop(): Promise<void> {
    this.wanted = false;
    const term = this.term;
    this.term = undefined;
    if (!term) return this.settling ?? Promise.resolve();
    term.abort.abort();
    const settling: Promise<void> = Promise.all(term.runs).then(() => {
      if (this.settling === settling) this.settling = undefined;
    });
    this.settling = settling;
    return settling;
  }

  private async launch(runnable: Runnable, signal: AbortSignal): Promise<void> {
    this.log.info({ runnable: runnable.name }, 'runnable started');
    try {
      await runnable.run(signal);
      this.log.info({ runnable: runnable.name }, 'runnable stopped');
    } catch (err) {
      this.log.error(
        { runnable: runnable.name, err: (err as Error)?.message ?? String(err) },
        'runnable failed',
      );
    }
  }
}

/** Resolves when `signal` aborts (at once when it already has). */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
