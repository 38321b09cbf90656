// Informers started on demand, one per referenced kind (a {@link KindWatcher} for the Tracker):
// the kind's resource is found through discovery (so any Addressable CRD works, whatever its
// plural), read access is probed with one small list first (a kind the operator may not read is
// not watched, instead of an informer retrying a 403 for ever), and the informer is stopped once
// nothing references the kind. Every add, update or delete is reported as an object reference.
import { ApiError, type KubeClient } from './client.js';
import { Informer } from './informer.js';
import type { KubeObject, ResourceType } from './objects.js';
import { resourcePath } from './objects.js';
import { silentLogger, type Logger } from './logger.js';
import type { RuntimeMetrics } from './metrics.js';
import type { KindReference, KindWatcher, ObjectReference } from './tracker.js';

/** Why a kind cannot be watched or read. */
export type KindProblem = { reason: 'Forbidden' | 'NotServed' | 'DiscoveryFailed'; message: string };

/** Options of {@link DynamicInformers}. */
export interface DynamicInformersOptions {
  /** Called for every add, update and delete of a watched object (keep it cheap: enqueue). */
  onEvent(ref: ObjectReference): void;
  logger?: Logger;
  metrics?: RuntimeMetrics;
  /** Server-side watch timeout of each informer. Default 300 s (the informer's default). */
  watchTimeoutSeconds?: number;
}

interface DiscoveryList {
  resources?: Array<{ name: string; kind: string; namespaced: boolean }>;
}

/** Longest a start waits for its informer's first list before counting as done. */
const SYNC_WAIT_MS = 10_000;

const kindId = (k: KindReference) => `${k.apiVersion}|${k.kind}`;

/** Starts and stops one cluster-wide informer per referenced kind. */
export class DynamicInformers implements KindWatcher {
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly wanted = new Set<string>();
  private readonly problems = new Map<string, KindProblem>();
  private readonly log: Logger;
  private stopped = false;

  constructor(
    private readonly client: KubeClient,
    private readonly options: DynamicInformersOptions,
  ) {
    this.log = (options.logger ?? silentLogger()).child({ component: 'dynamic-informers' });
  }

  /** The resource serving `kind`, through discovery (`/api/v1`, `/apis/<group>/<version>`); undefined or a problem. */
  async resolve(kind: KindReference): Promise<ResourceType | KindProblem> {
    const path = kind.apiVersion.includes('/') ? `/apis/${kind.apiVersion}` : `/api/${kind.apiVersion}`;
    let list: DiscoveryList;
    try {
      list = await this.client.request<DiscoveryList>('GET', path);
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) {
        return { reason: 'NotServed', message: `the API server serves no ${kind.apiVersion}` };
      }
      return {
        reason: 'DiscoveryFailed',
        message: `discovery of ${kind.apiVersion}: ${(err as Error).message}`,
      };
    }
    const found = list.resources?.find((r) => r.kind === kind.kind && !r.name.includes('/'));
    if (!found) return { reason: 'NotServed', message: `${kind.apiVersion} has no kind ${kind.kind}` };
    return { apiVersion: kind.apiVersion, plural: found.name, kind: kind.kind, namespaced: found.namespaced };
  }

  /** Starts watching `kind` unless it is watched or starting already; a failed start is retried on the next call. */
  watch(kind: KindReference): void {
    const id = kindId(kind);
    this.wanted.add(id);
    if (this.stopped || this.informers.has(id) || this.pending.has(id)) return;
    const starting = this.start(id, kind).finally(() => this.pending.delete(id));
    this.pending.set(id, starting);
  }

  /** Stops the informer of `kind`. */
  unwatch(kind: KindReference): void {
    const id = kindId(kind);
    this.wanted.delete(id);
    this.problems.delete(id);
    const informer = this.informers.get(id);
    if (!informer) return;
    this.informers.delete(id);
    this.log.info({ kind: id }, `stopped watching ${kind.kind} (${kind.apiVersion}): no longer referenced`);
    void informer.stop();
  }

  /** Kinds with a running informer, as `apiVersion|kind`. */
  watchedKinds(): string[] {
    return [...this.informers.keys()].sort();
  }

  /** Why `kind` is not watched, if its last start failed. */
  problem(kind: KindReference): KindProblem | undefined {
    return this.problems.get(kindId(kind));
  }

  /** Resolves once every start in progress has finished (for tests and orderly shutdown). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.pending.values()]);
  }

  /** Allows starts again after {@link stop} (a new leadership term). */
  resume(): void {
    this.stopped = false;
  }

  /** Stops every informer; watch() starts nothing until {@link resume}. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.settled();
    const all = [...this.informers.values()];
    this.informers.clear();
    await Promise.all(all.map((i) => i.stop()));
  }

  private async start(id: string, kind: KindReference): Promise<void> {
    const resource = await this.resolve(kind);
    if ('reason' in resource) return this.fail(id, kind, resource);
    try {
      // One tiny list: a 403 here means RBAC does not let us read the kind; say so, do not loop.
      await this.client.request('GET', `${resourcePath({ ...resource, namespaced: false })}?limit=1`);
    } catch (err) {
      const forbidden = err instanceof ApiError && err.code === 403;
      return this.fail(id, kind, {
        reason: forbidden ? 'Forbidden' : 'DiscoveryFailed',
        message: forbidden
          ? `the operator may not list ${resource.plural}.${kind.apiVersion}: grant get, list and watch with a ClusterRole labelled duck.knative.dev/addressable: "true"`
          : `listing ${resource.plural}.${kind.apiVersion}: ${(err as Error).message}`,
      });
    }
    // Unreferenced or stopped while discovery ran: nothing to start.
    if (this.stopped || !this.wanted.has(id)) return;
    const informer = new Informer<KubeObject>(this.client, {
      resource: { ...resource, namespaced: resource.namespaced },
      ...(this.options.watchTimeoutSeconds ? { watchTimeoutSeconds: this.options.watchTimeoutSeconds } : {}),
      logger: this.log,
      ...(this.options.metrics ? { metrics: this.options.metrics } : {}),
    });
    const report = (obj: KubeObject) =>
      this.options.onEvent({
        apiVersion: kind.apiVersion,
        kind: kind.kind,
        namespace: obj.metadata.namespace ?? '',
        name: obj.metadata.name,
      });
    informer.addHandler({ onAdd: report, onUpdate: (_old, obj) => report(obj), onDelete: report });
    this.problems.delete(id);
    this.informers.set(id, informer);
    informer.start();
    // settled() then means "synced": a start is done once the cache holds the kind (bounded wait).
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), SYNC_WAIT_MS);
    await informer.waitForSync(abort.signal).catch(() => undefined);
    clearTimeout(timer);
    this.log.info(
      { kind: id, resource: resource.plural },
      `watching ${kind.kind} (${kind.apiVersion}) for sink refs`,
    );
  }

  private fail(id: string, kind: KindReference, problem: KindProblem): void {
    this.problems.set(id, problem);
    this.log.warn(
      { kind: id, reason: problem.reason },
      `cannot watch ${kind.kind} (${kind.apiVersion}): ${problem.message}`,
    );
  }
}
