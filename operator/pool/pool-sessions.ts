// The operator's side of the shared pool: one control session per pool pod, placement of every
// shared source (placement.ts), assignments streamed as list + watch (a paged snapshot on every
// (re)connect, then upsert/release increments), and handoffs release-then-start. Self-contained:
// it is fed the pool's pods and the shared sources, and tells its owner which source key to
// reconcile again through one callback; start/stop bind it to a manager's lifetime.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  CommandRejectedError,
  ControlClient,
  newCommandId,
  type CommandResult,
  type Notification,
  type TlsPems,
} from '../../control/index.js';
import { parseInterval, type Generation } from '../../contract/commands.js';
import { POOL_IDENTITY } from '../../contract/identities.js';
import {
  NOTIFICATION_POOL_STATE,
  OP_POOL_RELEASE,
  OP_POOL_REPORT_SEQUENCES,
  OP_POOL_SNAPSHOT,
  OP_POOL_UPSERT,
  PoolStateSchema,
  ReleasedSourceSchema,
  SequenceReportSchema,
  SNAPSHOT_PAGE_SIZE,
  type SourceAssignmentInput,
} from '../../contract/pool.js';
import { Placer } from './placer.js';

/** Generations are int64: a number or a bigint; compare by value. */
function sameGeneration(a: Generation | undefined, b: Generation): boolean {
  return a !== undefined && BigInt(a) === BigInt(b);
}

/** A pool pod as the operator's Pod watch sees it. */
export interface PoolPod {
  name: string;
  /** host:port of its control server. */
  target: string;
}

/**
 * A shared source's desired configuration (its sequence is the manager's business, except for
 * `sequenceFloor`: the last sequence its dedicated pods sent before a switch to shared).
 */
export type SharedSource = Omit<SourceAssignmentInput, 'lastSequence'> & { sequenceFloor?: number };

/**
 * Shortest time between two placement passes (resync): 10 ms. A change after a quiet spell is
 * placed at once; in a burst (thousands of upserts and results) the changes of each 10 ms are
 * placed together, and a pass that took long spaces the next one out to 3 times its duration, so
 * placement never takes more than about a quarter of the operator's time.
 */
export const MIN_PLACEMENT_SPACING_MS = 10;

/** Incarnations (uids) whose last sequence is kept for a source the pool does not hold: 100,000, oldest forgotten first. */
export const FLOOR_MEMORY = 100_000;

/** Where a shared source stands, for its status. */
export interface SharedSourceStatus {
  /** Pool pod running it (confirmed by the pod), if any. */
  pod?: string;
  /** Generation the pod reported applied. */
  appliedGeneration?: Generation;
  /** starting: sent, not yet confirmed; running; releasing: waiting for the old owner; orphaned: owner lost, waiting out the dead-peer bound; rejected. */
  phase: 'unplaced' | 'starting' | 'running' | 'releasing' | 'orphaned' | 'rejected';
  /** Why the pod refused it (phase rejected). */
  message?: string;
}

/** Options of {@link PoolSessions}. */
export interface PoolSessionsOptions {
  /** The operator's client certificate, asked on every (re)connect so renewals apply. */
  tls: () => TlsPems;
  identity: string;
  /** Time after losing a pod's session before its sources start elsewhere. Default 8 s (4 s keepalive detection + the pod's own lease + margin). */
  deadPeerBoundMs?: number;
  /** Called when a source's status may have changed. */
  onChange: (sourceKey: string) => void;
  logger: Logger;
  metrics?: Registry;
  /** Longest wait between reconnect attempts. Default 1 s. */
  reconnectCapMs?: number;
}

interface PodSession {
  pod: PoolPod;
  client: ControlClient;
  member: boolean;
  everReady: boolean;
  /** The pod answered this term's ReportSequences (every page): only then may it take sources. */
  reported: boolean;
  /** A ReportSequences page is on its way (the outbox resends it across reconnects). */
  reporting: boolean;
  /** performance.now() when the session was lost; undefined while ready. */
  lostAt?: number;
}

interface SourceBook {
  desired: SharedSource;
  owner?: string;
  phase: SharedSourceStatus['phase'];
  message?: string;
  /** Generation last sent to the owner. */
  sentGeneration?: Generation;
  appliedGeneration?: Generation;
  /** Highest sequence known to be used (release result, PoolState, or estimate for a dead owner). */
  lastSequence: number;
  /** When the current owner was told to start, and the shortest interval since: bounds what it can have sent. */
  startedAt?: number;
  minIntervalMs?: number;
  startSequence: number;
}

interface Pending {
  kind: 'upsert' | 'release' | 'snapshot' | 'report';
  pod: string;
  keys: string[];
  generations?: Generation[];
  /** The page of a report. */
  page?: number;
}

/** A removed source whose old owner has not yet confirmed it stopped: the owner, and its book for the estimate. */
interface LettingGo {
  pod: string;
  book: SourceBook;
}

/** Shared-pool control sessions, placement and handoff. */
export class PoolSessions {
  private readonly pods = new Map<string, PodSession>();
  private readonly sources = new Map<string, SourceBook>();
  private readonly pending = new Map<string, Pending>();
  /** Sources removed whose old owner has not yet confirmed it stopped them. */
  private readonly letGo = new Map<string, LettingGo>();
  /**
   * Highest sequence known per incarnation (uid) of a source no book holds: what the pods
   * reported at the start of the term, and what removed sources' releases reported. A source
   * upserted (again) continues after it; a source switched to dedicated hands it to its pods.
   */
  private readonly floors = new Map<string, number>();
  /**
   * Closed at the start of a term: nothing is placed until every member pod reported the sequences
   * it knows (ReportSequences), or until the dead-peer bound passed (a pod that never answers).
   */
  private gateOpen = false;
  private startedAt = 0;
  private version = Date.now() * 1_000;
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  /** The source keys in placement order and the last placement (recomputed only when keys or members change). */
  private readonly placer = new Placer();
  /** When the last placement pass ended and how long it took (performance.now() ms): spaces the next one. */
  private lastPass = { endedAt: -Infinity, tookMs: 0 };
  private running = false;

  constructor(private readonly options: PoolSessionsOptions) {}

  private get deadPeerBoundMs(): number {
    return this.options.deadPeerBoundMs ?? 8_000;
  }

  /** Starts steering (sessions open as pods are set). */
  start(): void {
    this.running = true;
    this.startedAt = performance.now();
    for (const s of this.pods.values()) s.client.start();
    this.schedule();
  }

  /** Closes every session; the pods' own lease stops their sources. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await Promise.all([...this.pods.values()].map((s) => s.client.close()));
    this.pods.clear();
  }

  /** The pool's ready pods, as the Pod watch sees them (replaces the previous set). */
  setPods(pods: PoolPod[]): void {
    const names = new Set(pods.map((p) => p.name));
    for (const pod of pods) {
      const existing = this.pods.get(pod.name);
      if (existing && existing.pod.target === pod.target) {
        existing.member = true;
        continue;
      }
      if (existing) void this.dropPod(existing);
      this.openPod(pod);
    }
    for (const s of this.pods.values()) if (!names.has(s.pod.name)) s.member = false;
    this.schedule();
  }

  /** Adds a shared source or changes its configuration. */
  upsertSource(source: SharedSource): void {
    const { sequenceFloor, ...desired } = source;
    const floor = Math.max(sequenceFloor ?? 0, this.takeFloor(source.uid));
    const book = this.sources.get(source.key);
    if (book) {
      if (book.desired.uid !== source.uid) book.lastSequence = 0;
      book.lastSequence = Math.max(book.lastSequence, floor);
      // A sink that moved keeps the generation: send it again all the same.
      if (JSON.stringify(book.desired.sink) !== JSON.stringify(desired.sink)) book.sentGeneration = undefined;
      book.desired = desired;
    } else {
      this.sources.set(source.key, { desired, phase: 'unplaced', lastSequence: floor, startSequence: 0 });
      this.placer.add(source.key);
    }
    this.schedule();
  }

  /** Removes a shared source (deleted, or switched to dedicated): its owner releases it. */
  removeSource(key: string): void {
    const book = this.sources.get(key);
    if (!book) return;
    this.sources.delete(key);
    this.placer.delete(key);
    this.raiseFloor(book.desired.uid, book.lastSequence);
    if (book.owner) {
      // Until the owner confirms, the source may still be emitting there (status phase releasing).
      this.letGo.set(key, { pod: book.owner, book });
      this.sendRelease(book.owner, key, undefined);
    }
    this.schedule();
  }

  /**
   * The last sequence the pool knows for incarnation `uid` of a source it does not hold (removed and
   * let go, or reported at the start of the term): dedicated pods taking the source over continue
   * after it. Undefined when none is known.
   */
  sequenceFloor(uid: string): number | undefined {
    return this.floors.get(uid);
  }

  /** Whether this term has learnt every member pod's sequences (or given up waiting): only then is anything placed. */
  get placing(): boolean {
    return this.gateOpen;
  }

  private raiseFloor(uid: string, sequence: number): void {
    const known = this.floors.get(uid);
    if (known !== undefined && known >= sequence) return;
    this.floors.delete(uid);
    this.floors.set(uid, sequence);
    if (this.floors.size > FLOOR_MEMORY) this.floors.delete(this.floors.keys().next().value!);
  }

  /** The floor of `uid` (0 if none), handed to a book. */
  private takeFloor(uid: string): number {
    const floor = this.floors.get(uid) ?? 0;
    this.floors.delete(uid);
    return floor;
  }

  /** True while a removed source's old owner has not confirmed it stopped (or the dead-peer bound has not passed). */
  isLettingGo(key: string): boolean {
    return this.letGo.has(key);
  }

  /** Keys of the shared sources known. */
  sourceKeys(): string[] {
    return [...this.sources.keys()];
  }

  /**
   * Whether this term will report on `key` by itself soon (onChange follows): its desired
   * generation was sent to a pod and awaits the result, or it waits for a placement pass that has
   * a pod with a ready session to send it to. False for a source moving, orphaned or rejected.
   */
  settling(key: string): boolean {
    const b = this.sources.get(key);
    if (!b || !this.running || !this.gateOpen || this.letGo.has(key)) return false;
    if (b.phase === 'starting') return true;
    if (b.phase === 'running') return !sameGeneration(b.appliedGeneration, b.desired.generation);
    if (b.phase !== 'unplaced') return false;
    return this.placeable(performance.now()).some((p) => this.pods.get(p)?.client.state === 'ready');
  }

  /** Status of one shared source. */
  status(key: string): SharedSourceStatus | undefined {
    const b = this.sources.get(key);
    if (!b) return this.letGo.has(key) ? { phase: 'releasing' } : undefined;
    return {
      phase: b.phase,
      ...(b.owner && b.phase === 'running' ? { pod: b.owner } : {}),
      ...(b.appliedGeneration !== undefined ? { appliedGeneration: b.appliedGeneration } : {}),
      ...(b.message ? { message: b.message } : {}),
    };
  }

  private openPod(pod: PoolPod): void {
    const client = new ControlClient({
      target: pod.target,
      tls: this.options.tls,
      identity: this.options.identity,
      // The operator accepts only the pool's identity from pool pods.
      expectedServerIdentity: POOL_IDENTITY,
      logger: this.options.logger.child({ poolPod: pod.name }),
      metrics: this.options.metrics,
      backoff: { initialMs: 50, maxMs: this.options.reconnectCapMs ?? 1_000 },
      onFull: 'wait',
    });
    const session: PodSession = {
      pod,
      client,
      member: true,
      everReady: false,
      reported: false,
      reporting: false,
    };
    this.pods.set(pod.name, session);
    client.onStateChange((state) => {
      if (this.pods.get(pod.name) !== session) return;
      if (state === 'ready') {
        if (session.lostAt !== undefined) {
          // The pod may have restarted and lost its sequences: continue after the most it can have sent.
          for (const b of this.sources.values())
            if (b.owner === pod.name)
              b.lastSequence = Math.max(b.lastSequence, this.worstCaseSequence(b, performance.now()));
        }
        session.everReady = true;
        session.lostAt = undefined;
        // First what the pod knows (once per pod and term), then its assignments.
        if (session.reported) this.sendSnapshot(session);
        else if (!session.reporting) this.sendReport(session, 0);
      } else if (session.lostAt === undefined && session.everReady) {
        session.lostAt = performance.now();
      }
      this.schedule();
    });
    client.onResult((r) => this.onResult(r));
    client.onNotification((n) => this.onNotification(pod.name, n));
    if (this.running) client.start();
  }

  private async dropPod(session: PodSession): Promise<void> {
    this.pods.delete(session.pod.name);
    await session.client.close();
  }

  /** Pods that can take sources: members whose session is up or lost for less than the bound. */
  private placeable(now: number): string[] {
    return [...this.pods.values()]
      .filter((s) => s.member && s.everReady && s.reported && !this.isDead(s, now))
      .map((s) => s.pod.name);
  }

  private isDead(s: PodSession, now: number): boolean {
    return s.lostAt !== undefined && now - s.lostAt >= this.deadPeerBoundMs;
  }

  /** Asks for a placement pass: at once after a quiet spell, else coalesced (see {@link MIN_PLACEMENT_SPACING_MS}). */
  private schedule(): void {
    if (this.scheduled || !this.running) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      const started = performance.now();
      this.resync();
      const endedAt = performance.now();
      this.lastPass = { endedAt, tookMs: endedAt - started };
    };
    const spacing = Math.max(MIN_PLACEMENT_SPACING_MS, 3 * this.lastPass.tookMs);
    const wait = this.lastPass.endedAt + spacing - performance.now();
    if (wait <= 0) queueMicrotask(run);
    else setTimeout(run, wait);
  }

  /** Level-triggered: brings every source one step closer to its placed owner. */
  private resync(): void {
    if (!this.running) return;
    const now = performance.now();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.gateOpen && !this.openGate(now)) {
      this.wakeAt(this.startedAt + this.deadPeerBoundMs);
      return;
    }
    const target = this.placer.placement(this.placeable(now));
    let wakeAt = Infinity;
    for (const [key, book] of this.sources) {
      const want = target.get(key);
      if (book.owner === undefined) {
        if (want === undefined || book.phase === 'rejected') continue;
        // Removed and added again: wait until the old owner let go of it (no two emitters).
        if (this.letGo.has(key)) continue;
        if (this.pods.get(want)?.client.state !== 'ready') continue;
        this.sendUpsert(want, book);
        continue;
      }
      const owner = this.pods.get(book.owner);
      if (book.owner === want) {
        if (
          book.phase !== 'releasing' &&
          owner?.client.state === 'ready' &&
          !sameGeneration(book.sentGeneration, book.desired.generation)
        )
          this.sendUpsert(want, book);
        continue;
      }
      // A release in flight waits for its result, unless the owner's session went meanwhile (a pod
      // stopping as it is scaled away): then, like any lost owner, the dead-peer bound applies.
      if (book.phase === 'releasing' && owner?.client.state === 'ready') continue;
      if (owner && owner.client.state === 'ready') {
        book.phase = 'releasing';
        this.sendRelease(book.owner, key, book);
        continue;
      }
      // The owner is unreachable: wait out the dead-peer bound, then assume the worst it sent.
      if (owner?.lostAt !== undefined && !this.isDead(owner, now)) {
        book.phase = 'orphaned';
        wakeAt = Math.min(wakeAt, owner.lostAt + this.deadPeerBoundMs);
        continue;
      }
      book.lastSequence = Math.max(book.lastSequence, this.worstCaseSequence(book, owner?.lostAt ?? now));
      book.owner = undefined;
      book.phase = 'unplaced';
      this.options.onChange(key);
      if (want !== undefined && this.pods.get(want)?.client.state === 'ready') this.sendUpsert(want, book);
    }
    for (const s of [...this.pods.values()])
      if (!s.member && ![...this.sources.values()].some((b) => b.owner === s.pod.name)) void this.dropPod(s);
    if (wakeAt !== Infinity) this.wakeAt(wakeAt);
  }

  private wakeAt(at: number): void {
    this.timer = setTimeout(() => this.schedule(), Math.max(0, at - performance.now()) + 5);
    this.timer.unref();
  }

  /**
   * Opens the term's gate once every member pod (at least one) reported its sequences, or once the
   * dead-peer bound passed since the term started: a member that has not answered by then is
   * unreachable, and its lease has stopped whatever it ran (docs/pool.md).
   */
  private openGate(now: number): boolean {
    const members = [...this.pods.values()].filter((s) => s.member);
    const allReported = members.length > 0 && members.every((s) => s.reported);
    if (!allReported && now - this.startedAt < this.deadPeerBoundMs) return false;
    this.gateOpen = true;
    const missing = members.filter((s) => !s.reported).map((s) => s.pod.name);
    if (missing.length > 0)
      this.options.logger.warn(
        { missing },
        `placing shared sources without the sequences of ${missing.join(', ')} (no report within ${this.deadPeerBoundMs}ms)`,
      );
    else this.options.logger.info({ pods: members.length }, 'every pool pod reported its sequences; placing');
    return true;
  }

  /** The highest sequence a lost owner can have used: one per shortest interval since it was told to start, plus one. */
  private worstCaseSequence(book: SourceBook, lostAt: number): number {
    if (book.startedAt === undefined || book.minIntervalMs === undefined) return book.lastSequence;
    return book.startSequence + Math.floor((lostAt - book.startedAt) / book.minIntervalMs) + 2;
  }

  /**
   * A release that could not be delivered (the session went): the pod's own lease stops the source
   * and the dead-peer bound covers that, so only after it is the source counted as let go.
   */
  private letGoAfterBound(key: string, pod: string): void {
    const lettingGo = this.letGo.get(key);
    if (lettingGo?.pod !== pod) return;
    const lostAt = performance.now();
    const timer = setTimeout(() => {
      if (this.letGo.get(key) !== lettingGo) return;
      this.letGo.delete(key);
      // Nobody knows its last sequence: the most the old owner can have sent.
      this.raiseFloor(lettingGo.book.desired.uid, this.worstCaseSequence(lettingGo.book, lostAt));
      this.options.onChange(key);
      this.schedule();
    }, this.deadPeerBoundMs);
    timer.unref();
  }

  private nextVersion(): number {
    return ++this.version;
  }

  private track(book: SourceBook, owner: string): void {
    const intervalMs = parseInterval(book.desired.interval);
    if (book.owner !== owner || book.startedAt === undefined) {
      book.startedAt = performance.now();
      book.startSequence = book.lastSequence;
      book.minIntervalMs = intervalMs;
    } else book.minIntervalMs = Math.min(book.minIntervalMs ?? intervalMs, intervalMs);
    book.owner = owner;
    book.sentGeneration = book.desired.generation;
  }

  private sendUpsert(pod: string, book: SourceBook): void {
    const first = book.owner !== pod;
    this.track(book, pod);
    if (first) book.phase = 'starting';
    this.send(
      pod,
      OP_POOL_UPSERT,
      { version: this.nextVersion(), source: { ...book.desired, lastSequence: book.lastSequence } },
      {
        kind: 'upsert',
        pod,
        keys: [book.desired.key],
        generations: [book.desired.generation],
      },
    );
  }

  /** One page of ReportSequences (the pod stops its sources on page 0); the result of one asks for the next. */
  private sendReport(session: PodSession, page: number): void {
    session.reporting = true;
    this.send(
      session.pod.name,
      OP_POOL_REPORT_SEQUENCES,
      { version: this.nextVersion(), page },
      { kind: 'report', pod: session.pod.name, keys: [], page },
    );
  }

  /** What a pod reported at the start of the term: each incarnation's floor. */
  private learn(pod: string, page: number, r: CommandResult): void {
    const session = this.pods.get(pod);
    if (!session) return;
    const report = r.succeeded ? SequenceReportSchema.safeParse(r.detail) : undefined;
    if (report?.success) {
      for (const s of report.data.sources) {
        const book = this.sources.get(s.key);
        if (book && book.desired.uid === s.uid)
          book.lastSequence = Math.max(book.lastSequence, s.lastSequence);
        else this.raiseFloor(s.uid, s.lastSequence);
      }
      if (page + 1 < report.data.pages) {
        this.sendReport(session, page + 1);
        return;
      }
    } else
      this.options.logger.warn(
        { poolPod: pod, reason: r.reason },
        `sequence report of ${pod} not usable (${r.message ?? r.reason ?? 'bad detail'}); it takes sources without it`,
      );
    session.reporting = false;
    session.reported = true;
    if (session.client.state === 'ready') this.sendSnapshot(session);
    this.schedule();
  }

  private sendRelease(pod: string, key: string, book: SourceBook | undefined): void {
    void book;
    this.send(
      pod,
      OP_POOL_RELEASE,
      { version: this.nextVersion(), key },
      { kind: 'release', pod, keys: [key] },
    );
  }

  /** Full set of a pod on every (re)connect: the sources it owns or is starting. */
  private sendSnapshot(session: PodSession): void {
    const name = session.pod.name;
    const books = [...this.sources.values()].filter((b) => b.owner === name && b.phase !== 'releasing');
    const version = this.nextVersion();
    const pages = Math.max(1, Math.ceil(books.length / SNAPSHOT_PAGE_SIZE));
    for (let page = 0; page < pages; page++) {
      const slice = books.slice(page * SNAPSHOT_PAGE_SIZE, (page + 1) * SNAPSHOT_PAGE_SIZE);
      for (const b of slice) this.track(b, name);
      this.send(
        name,
        OP_POOL_SNAPSHOT,
        {
          version,
          page,
          last: page === pages - 1,
          sources: slice.map((b) => ({ ...b.desired, lastSequence: b.lastSequence })),
        },
        // Only the last page's result means the set runs: it carries every key of the snapshot.
        page === pages - 1
          ? {
              kind: 'snapshot',
              pod: name,
              keys: books.map((b) => b.desired.key),
              generations: books.map((b) => b.desired.generation),
            }
          : { kind: 'snapshot', pod: name, keys: [] },
      );
    }
  }

  private send(pod: string, opcode: string, payload: unknown, pending: Pending): void {
    const session = this.pods.get(pod);
    if (!session) return;
    const id = newCommandId();
    this.pending.set(id, pending);
    session.client.sendAndWaitForAck(opcode, payload, { id, timeoutMs: 0 }).catch((err: Error) => {
      this.pending.delete(id);
      this.options.logger.warn(
        { poolPod: pod, opcode, err: err.message },
        `${opcode} to ${pod} failed: ${err.message}`,
      );
      if (pending.kind === 'release') this.letGoAfterBound(pending.keys[0]!, pod);
      if (pending.kind === 'report') {
        if (err instanceof CommandRejectedError) {
          // A pod that does not know the opcode (an older image) has nothing to tell.
          this.learn(pod, pending.page ?? 0, {
            commandId: id,
            opcode: OP_POOL_REPORT_SEQUENCES,
            succeeded: false,
            reason: err.code,
          });
        } else if (session.client.state !== 'closed') {
          session.reporting = false; // lost with the stream: asked again when it is ready
          if (session.client.state === 'ready') this.sendReport(session, 0);
        }
      }
      for (const key of pending.keys) {
        const b = this.sources.get(key);
        if (!b || b.owner !== pod) continue;
        if (err instanceof CommandRejectedError) {
          // Refused as bad input: reported on this source alone, not resent until its spec changes.
          b.phase = 'rejected';
          b.message = err.message;
          this.options.onChange(key);
        } else b.sentGeneration = undefined; // lost with the session: the resync sends it again
      }
      this.schedule();
    });
  }

  private onResult(r: CommandResult): void {
    const p = this.pending.get(r.commandId);
    if (!p) return;
    this.pending.delete(r.commandId);
    if (p.kind === 'report') {
      this.learn(p.pod, p.page ?? 0, r);
      return;
    }
    if (p.kind === 'release') {
      const key = p.keys[0]!;
      const lettingGo = this.letGo.get(key);
      if (lettingGo?.pod === p.pod) {
        this.letGo.delete(key);
        const detail = r.succeeded ? ReleasedSourceSchema.safeParse(r.detail) : undefined;
        // Its true last sequence, for whoever takes the source on (the pool again, or dedicated pods).
        this.raiseFloor(
          lettingGo.book.desired.uid,
          detail?.success
            ? detail.data.lastSequence
            : this.worstCaseSequence(lettingGo.book, performance.now()),
        );
      }
      const book = this.sources.get(key);
      if (book && book.owner === p.pod && r.succeeded) {
        const detail = ReleasedSourceSchema.safeParse(r.detail);
        book.lastSequence = Math.max(book.lastSequence, detail.success ? detail.data.lastSequence : 0);
        book.owner = undefined;
        book.phase = 'unplaced';
        book.startedAt = undefined;
      }
      this.options.onChange(key);
      this.schedule();
      return;
    }
    if (p.kind === 'snapshot' && !r.succeeded) {
      this.options.logger.warn(
        { poolPod: p.pod, reason: r.reason },
        `snapshot refused by ${p.pod}: ${r.message ?? ''}`,
      );
      return;
    }
    const rejected = new Map<string, string>();
    if (p.kind === 'upsert' && !r.succeeded) rejected.set(p.keys[0]!, r.message ?? r.reason ?? 'refused');
    p.keys.forEach((key, i) => {
      const book = this.sources.get(key);
      if (!book || book.owner !== p.pod) return;
      if (rejected.has(key)) {
        if (r.reason === 'StaleAssignmentVersion') return; // a newer snapshot or increment already covers it
        book.phase = 'rejected';
        book.message = rejected.get(key);
      } else if (p.kind === 'upsert' || p.kind === 'snapshot' || hasRunning(r.detail)) {
        if (book.phase !== 'releasing') book.phase = 'running';
        book.message = undefined;
        const reported = p.generations![i]!;
        if (book.appliedGeneration === undefined || reported > book.appliedGeneration)
          book.appliedGeneration = reported;
      }
      this.options.onChange(key);
    });
  }

  private onNotification(pod: string, n: Notification): void {
    if (n.type !== NOTIFICATION_POOL_STATE) return;
    const parsed = PoolStateSchema.safeParse(n.data);
    if (!parsed.success) return;
    for (const s of parsed.data.sources) {
      const book = this.sources.get(s.key);
      if (book && book.owner === pod && book.desired.uid === s.uid)
        book.lastSequence = Math.max(book.lastSequence, s.lastSequence);
    }
    for (const r of parsed.data.rejected) {
      const book = this.sources.get(r.key);
      if (!book || book.owner !== pod) continue;
      book.phase = 'rejected';
      book.message = r.message;
      this.options.onChange(r.key);
    }
  }
}

/** Whether an async result's detail reports running sources (a release result does not). */
function hasRunning(detail: unknown): boolean {
  return typeof detail === 'object' && detail !== null && 'running' in detail;
}
