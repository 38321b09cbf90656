// The set of sources a pool pod runs, converged to the operator's assignments. Snapshots are
// state: after the last page, whatever is not in the set is stopped and whatever is in it runs
// with exactly its configuration, so a reconnect can never leave a stale source running.
// Every operation runs one after another (a release must finish stopping before the next
// snapshot or upsert looks at the set).
import {
  POOL_STATE_PAGE_SIZE,
  REASON_STALE_VERSION,
  SEQUENCE_REPORT_PAGE_SIZE,
  SourceAssignmentSchema,
  type KnownSequence,
  type PoolState,
  type PooledSourceState,
  type ReleasedSource,
  type SequenceReport,
  type SourceAssignment,
} from '../../contract/pool.js';
import { PooledSource, type PooledSourceContext } from './pooled-source.js';

/**
 * Stopped sources whose last sequence is remembered: 20,000, the oldest stop forgotten first (an
 * entry is the key, the uid string the source already held and one number: about 100 B, so 2 MB
 * at most). A new operator term learns them (ReportSequences) so that no sequence repeats.
 */
export const STOPPED_MEMORY = 20_000;

/** What a pod remembers of a stopped source: which incarnation, and the last sequence it used. */
interface StoppedSource {
  uid: string;
  last: number;
}

/** Outcome of one assignment operation, reported as the command's async result. */
export type PoolOutcome<T> = { ok: true; detail: T } | { ok: false; reason: string; message: string };

/** Summary of a converged snapshot. */
export interface ConvergeSummary {
  version: number;
  running: number;
  started: number;
  changed: number;
  stopped: number;
  rejected: number;
}

/** Knobs of a {@link SourcePool}. */
export interface SourcePoolOptions extends PooledSourceContext {
  /** How long a stop waits for a source's in-flight sends. Default 2 s. */
  stopDeadlineMs?: number;
  /** Called after every change of the set or of a source's configuration. */
  onChange?: () => void;
}

/** The running shared sources of one pod. */
export class SourcePool {
  private readonly sources = new Map<string, PooledSource>();
  private readonly rejected = new Map<string, string>();
  private readonly stoppedSequences = new Map<string, StoppedSource>();
  /** The list page 0 of a ReportSequences took, paged through by the pages after it. */
  private report: KnownSequence[] | undefined;
  private version = 0;
  private pending: { version: number; nextPage: number; entries: unknown[] } | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  // Sources stopped by close() and not yet released by the operator (the shutdown's drain).
  private readonly unreleased = new Set<string>();

  constructor(private readonly options: SourcePoolOptions) {}

  /** Number of running sources. */
  get size(): number {
    return this.sources.size;
  }

  /** Assignment version last converged to (0 before the first snapshot). */
  get appliedVersion(): number {
    return this.version;
  }

  /** One source's state, if it runs here. */
  source(key: string): PooledSourceState | undefined {
    return this.sources.get(key)?.snapshot();
  }

  /** The PoolState notification's data, in pages of {@link POOL_STATE_PAGE_SIZE} sources. */
  statePages(podName: string): PoolState[] {
    const all = [...this.sources.values()];
    const pages = Math.max(1, Math.ceil(all.length / POOL_STATE_PAGE_SIZE));
    return Array.from({ length: pages }, (_, page) => ({
      podName,
      version: this.version,
      page,
      pages,
      sources: all
        .slice(page * POOL_STATE_PAGE_SIZE, (page + 1) * POOL_STATE_PAGE_SIZE)
        .map((s) => s.snapshot()),
      rejected: page === 0 ? [...this.rejected].map(([key, message]) => ({ key, message })) : [],
    }));
  }

  /**
   * Takes one snapshot page; on the last page of a version, converges to the whole set. Pages
   * must arrive in order from 0; a page 0 restarts collection (a reconnect began a new snapshot).
   */
  snapshotPage(
    version: number,
    page: number,
    last: boolean,
    entries: unknown[],
  ): Promise<PoolOutcome<ConvergeSummary | { collected: number }>> {
    return this.serially(async () => {
      if (version < this.version) return this.stale('snapshot', version);
      if (page === 0) this.pending = { version, nextPage: 0, entries: [] };
      const pending = this.pending;
      if (!pending || pending.version !== version || pending.nextPage !== page) {
        return {
          ok: false,
          reason: 'SnapshotOutOfOrder',
          message: `snapshot version ${version} page ${page} does not follow ${pending ? `version ${pending.version} page ${pending.nextPage - 1}` : 'any page 0'}; waiting for a new snapshot`,
        } as const;
      }
      pending.entries.push(...entries);
      pending.nextPage++;
      if (!last) return { ok: true, detail: { collected: pending.entries.length } } as const;
      this.pending = undefined;
      return { ok: true, detail: await this.converge(version, pending.entries) } as const;
    });
  }

  /** Adds a source or changes it in place (a new uid, sink or extensions restarts it). */
  upsert(version: number, assignment: SourceAssignment): Promise<PoolOutcome<PooledSourceState>> {
    return this.serially(async () => {
      if (version < this.version) return this.stale('upsert', version);
      this.version = version;
      this.rejected.delete(assignment.key);
      const running = await this.run(assignment);
      this.options.onChange?.();
      return { ok: true, detail: running.snapshot() } as const;
    });
  }

  /** Stops a source and reports the last sequence it used; releasing a source not running here succeeds with 0. */
  release(version: number, key: string): Promise<PoolOutcome<ReleasedSource>> {
    return this.serially(async () => {
      // A pod shutting down has stopped everything; it still answers releases (with the last
      // sequence each source sent) so that the new owners start now, not after the dead-peer bound.
      if (this.closed) {
        this.unreleased.delete(key);
        return {
          ok: true,
          detail: { key, lastSequence: this.stoppedSequences.get(key)?.last ?? 0 },
        } as const;
      }
      if (version < this.version) return this.stale('release', version);
      this.version = version;
      this.rejected.delete(key);
      const lastSequence = await this.stopSource(key);
      this.options.onChange?.();
      return { ok: true, detail: { key, lastSequence: lastSequence ?? 0 } } as const;
    }, true);
  }

  /**
   * A new operator term learns the sequences this pod knows before it places anything. Page 0
   * stops every source first (a running source's figure would move on after the report, and the
   * new term may place it elsewhere), then takes the list of every remembered source; later pages
   * page through that list. The next snapshot or upsert starts whatever is assigned here again.
   */
  reportSequences(version: number, page: number): Promise<PoolOutcome<SequenceReport>> {
    return this.serially(async () => {
      if (version < this.version) return this.stale('sequence report', version);
      this.version = version;
      if (page === 0) {
        this.pending = undefined;
        const keys = [...this.sources.keys()];
        await Promise.all(keys.map((key) => this.stopSource(key)));
        if (keys.length > 0) this.options.onChange?.();
        this.report = [...this.stoppedSequences].map(([key, s]) => ({
          key,
          uid: s.uid,
          lastSequence: s.last,
        }));
      }
      const list = this.report ?? [];
      const pages = Math.max(1, Math.ceil(list.length / SEQUENCE_REPORT_PAGE_SIZE));
      const sources = list.slice(page * SEQUENCE_REPORT_PAGE_SIZE, (page + 1) * SEQUENCE_REPORT_PAGE_SIZE);
      if (page >= pages - 1) this.report = undefined;
      return { ok: true, detail: { page, pages, sources } } as const;
    });
  }

  /**
   * Stops every source but keeps the version: the pod has lost the operator for longer than its
   * lease, so the operator may already be starting these sources elsewhere. The next snapshot
   * starts whatever is still assigned here. Resolves to the number stopped.
   */
  suspend(): Promise<number> {
    return this.serially(async () => {
      const keys = [...this.sources.keys()];
      await Promise.all(keys.map((key) => this.stopSource(key)));
      if (keys.length > 0) this.options.onChange?.();
      return keys.length;
    });
  }

  /**
   * Stops every source (pod shutdown). Snapshots and upserts are refused from now on; releases
   * are still answered ({@link release}), and {@link unreleasedCount} counts down as they come.
   */
  close(): Promise<void> {
    return this.serially<void>(async () => {
      this.closed = true;
      const keys = [...this.sources.keys()];
      for (const key of keys) this.unreleased.add(key);
      await Promise.all(keys.map((key) => this.stopSource(key)));
    });
  }

  /** After {@link close}: sources it stopped that the operator has not released yet. */
  get unreleasedCount(): number {
    return this.unreleased.size;
  }

  private async converge(version: number, entries: unknown[]): Promise<ConvergeSummary> {
    const wanted = new Map<string, SourceAssignment>();
    this.rejected.clear();
    for (const entry of entries) {
      const parsed = SourceAssignmentSchema.safeParse(entry);
      if (parsed.success) {
        wanted.set(parsed.data.key, parsed.data);
        continue;
      }
      // A bad entry is refused on that source alone; the rest of the set still converges.
      const key = typeof (entry as { key?: unknown }).key === 'string' ? (entry as { key: string }).key : '?';
      this.rejected.set(
        key,
        parsed.error.issues.map((i) => `${i.path.join('.') || 'entry'}: ${i.message}`).join('; '),
      );
    }
    let started = 0;
    let changed = 0;
    const gone = [...this.sources.keys()].filter((key) => !wanted.has(key));
    await Promise.all(gone.map((key) => this.stopSource(key)));
    for (const assignment of wanted.values()) {
      const before = this.sources.get(assignment.key);
      const generation = before?.generation;
      const after = await this.run(assignment);
      if (!before || after !== before) started++;
      else if (after.generation !== generation) changed++;
    }
    this.version = version;
    this.options.onChange?.();
    return {
      version,
      running: this.sources.size,
      started,
      changed,
      stopped: gone.length,
      rejected: this.rejected.size,
    };
  }

  private async run(assignment: SourceAssignment): Promise<PooledSource> {
    const current = this.sources.get(assignment.key);
    if (current?.canApply(assignment)) {
      current.apply(assignment);
      return current;
    }
    // A different incarnation, sink or extensions: stop the old emitter before the new one starts.
    if (current) await this.stopSource(assignment.key);
    // The same incarnation ran here before (now, or stopped earlier): continue after the higher of
    // the operator's figure and ours, so that a figure the operator lost (a new term) repeats nothing.
    const previous = this.stoppedSequences.get(assignment.key);
    const next = new PooledSource(
      previous && previous.uid === assignment.uid
        ? { ...assignment, lastSequence: Math.max(assignment.lastSequence, previous.last) }
        : assignment,
      this.options,
    );
    this.sources.set(assignment.key, next);
    return next;
  }

  private async stopSource(key: string): Promise<number | undefined> {
    const source = this.sources.get(key);
    if (!source) return this.stoppedSequences.get(key)?.last;
    this.sources.delete(key);
    const last = await source.stop(this.options.stopDeadlineMs ?? 2_000);
    // Remembered so that a release resent after a snapshot already stopped the source still
    // reports the true last sequence (the new owner must continue after it, never repeat it).
    this.stoppedSequences.delete(key);
    this.stoppedSequences.set(key, { uid: source.uid, last });
    if (this.stoppedSequences.size > STOPPED_MEMORY) {
      this.stoppedSequences.delete(this.stoppedSequences.keys().next().value!);
    }
    return last;
  }

  private stale(what: string, version: number): PoolOutcome<never> {
    return {
      ok: false,
      reason: REASON_STALE_VERSION,
      message: `${what} of assignment version ${version} is older than version ${this.version} already applied; not applied`,
    };
  }

  private serially<T>(op: () => Promise<T>, whileClosed = false): Promise<T> {
    if (this.closed && !whileClosed) return Promise.reject(new Error('pool is shut down'));
    const next = this.chain.then(op, op);
    this.chain = next.catch(() => undefined);
    return next;
  }
}
