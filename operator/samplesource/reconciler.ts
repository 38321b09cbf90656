// The SampleSource reconciler: observe (the source read fresh, caches, the sink, the control
// sessions), plan once (the pure planReconcile), act (certificate Secret, Deployment, ApplyState
// commands, events, status). It never waits for an adapter: results arrive asynchronously and
// re-queue the source.
import type { V1Deployment, V1Pod, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import {
  ApiError,
  isAlreadyExists,
  isConflict,
  isNotFound,
  parseKey,
  resourcePath,
  type DynamicInformers,
  type Tracker,
  writeStatus,
  TerminalError,
  type EventRecorder,
  type KubeClient,
  type KubeObject,
  type Lister,
  OwnWrites,
  type Reconciler,
  type Request,
} from '../runtime/index.js';
import { SAMPLESOURCE_RESOURCE } from './resource.js';
import { parseSampleSource, type SampleSource } from '../../contract/samplesource.js';
import { adapterDeploymentName, certSecretName, sinkServiceAccountName } from './names.js';
import { buildSinkServiceAccount, isControlledBy } from './sink-identity.js';
import type { SinkTokens } from './sink-tokens.js';
import {
  buildCertSecret,
  certSecretNotAfter,
  checkCertSecret,
  DEFAULT_RENEW_BEFORE_MS,
} from './certs-secret.js';
import { notAfter } from '../../control/index.js';
import { planReconcile, type PlanOptions } from './desired-state.js';
import { sinkRefTarget, type SinkLookup } from './sink.js';
import { SOURCE_UID_LABEL } from './resources.js';
import type { AdapterPod, AdapterSessions } from './sessions.js';
import type { OperatorPki } from './operator-pki.js';
import { effectiveMode, DEFAULT_SOURCE_MODE } from '../../contract/samplesource.js';
import type { PoolPort } from '../pool/pool-runnable.js';
import { controlledBy, observeModeWorld } from './shared-reconcile.js';
import { handoverOf } from './shared-mode.js';

/** What the reconciler needs of the control sessions (AdapterSessions, or a fake in table tests). */
export type SessionsPort = Pick<AdapterSessions, 'sync' | 'reports' | 'send' | 'forget'> &
  // Optional: without it SinkReachable is not reported.
  Partial<Pick<AdapterSessions, 'adapterStates'>>;

/** What the reconciler reads and writes through. */
export interface SampleSourceReconcilerDeps {
  client: KubeClient;
  sources: Lister<KubeObject>;
  deployments: Lister<KubeObject>;
  pods: Lister<KubeObject>;
  secrets: Lister<KubeObject>;
  sessions: SessionsPort;
  pki: Pick<OperatorPki, 'caPem' | 'issueAdapter'>;
  recorder: Pick<EventRecorder, 'event'>;
  plan: PlanOptions;
  /** Records which object each source's sink.ref names, so its changes re-queue the source. Default: none. */
  tracker?: Tracker;
  /** Discovery (and watches) of Addressable kinds. Default: plural guessed from the kind. */
  addressables?: DynamicInformers;
  /** The clock. Default: the system time. */
  now?: () => Date;
  /**
   * OIDC sinks: the cache of the operator's sink ServiceAccounts and the token minter. Default none
   * (a source with an audience then gets a Deployment whose adapters wait for a token in vain).
   */
  sinkIdentity?: { serviceAccounts: Lister<KubeObject>; tokens: Pick<SinkTokens, 'want' | 'forget'> };
  /** The shared pool (shared-mode sources and switches). Default none: a shared source is never placed. */
  pool?: PoolPort;
}

/** How soon a source whose sink could not be read (forbidden, API error) is reconciled again: 30 s. */
export const UNREADABLE_SINK_RETRY_MS = 30_000;

/** What the operator needs to read any Addressable; the message of a SinkForbidden condition. */
export const ADDRESSABLE_RBAC_HINT =
  'grant get, list and watch on it with a ClusterRole labelled duck.knative.dev/addressable: "true" (aggregated into samplesource-addressable-resolver)';

/** Guesses a resource's plural from its kind, as Knative's tracker does for Addressables. */
export function pluralOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${lower}es`;
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

/** The apiserver path of a referenced object. */
export function refPath(ref: { apiVersion: string; kind: string; namespace: string; name: string }): string {
  const base = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
  return `${base}/namespaces/${ref.namespace}/${pluralOf(ref.kind)}/${ref.name}`;
}

function isReady(pod: V1Pod): boolean {
  return (
    !pod.metadata?.deletionTimestamp &&
    pod.status?.phase === 'Running' &&
    !!pod.status.podIP &&
    (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

/** The ready adapter pods of a source, from the pod cache. */
export function readyAdapterPods(pods: Lister<KubeObject>, source: SampleSource): AdapterPod[] {
  return pods
    .list(source.metadata.namespace)
    .map((o) => o as unknown as V1Pod)
    .filter((p) => p.metadata?.labels?.[SOURCE_UID_LABEL] === source.metadata.uid && isReady(p))
    .map((p) => ({ name: p.metadata!.name!, uid: p.metadata!.uid!, ip: p.status!.podIP! }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

async function lookupSink(
  deps: SampleSourceReconcilerDeps,
  key: string,
  source: SampleSource,
): Promise<SinkLookup | undefined> {
  const target = sinkRefTarget(source.spec.sink, source.metadata.namespace);
  // Core Services have an informer of their own (controller.ts); everything else is tracked.
  const tracked = target && !(target.apiVersion === 'v1' && target.kind === 'Service');
  deps.tracker?.track(key, tracked ? [target] : []);
  if (!target) return undefined;
  let path = refPath(target);
  if (tracked && deps.addressables) {
    const resource = await deps.addressables.resolve(target);
    if ('reason' in resource) return { error: resource.message };
    path = resourcePath(resource, target.namespace, target.name);
  }
  try {
    return { found: true, object: await deps.client.request('GET', path) };
  } catch (err) {
    if (isNotFound(err)) return { found: false };
    if (err instanceof ApiError && err.code === 403) return { forbidden: ADDRESSABLE_RBAC_HINT };
    return { error: (err as Error).message };
  }
}

/**
 * Makes sure the source's certificate Secret is current; issues (again) when it is missing, expiring
 * or stale. Returns when the certificate in force must be renewed, so the reconcile can come back then.
 */
async function ensureCertSecret(
  deps: SampleSourceReconcilerDeps,
  source: SampleSource,
  now: Date,
): Promise<Date> {
  const key = `${source.metadata.namespace}/${certSecretName(source)}`;
  const existing = deps.secrets.get(key) as unknown as V1Secret | undefined;
  const verdict = checkCertSecret(source, existing, { caPem: deps.pki.caPem, now });
  const renewAt = (expiry: Date) => new Date(expiry.getTime() - DEFAULT_RENEW_BEFORE_MS);
  // Kept: the certificate was read and parsed, so its expiry is known.
  if (verdict.action === 'keep') return renewAt(certSecretNotAfter(existing!)!);
  if (verdict.action === 'conflict') throw new TerminalError(verdict.message);
  const bundle = await deps.pki.issueAdapter(source);
  const secret = buildCertSecret(source, bundle);
  const base = `/api/v1/namespaces/${source.metadata.namespace}/secrets`;
  if (existing) {
    secret.metadata!.resourceVersion = existing.metadata?.resourceVersion;
    await deps.client.request('PUT', `${base}/${secret.metadata!.name}`, { body: secret });
  } else {
    await deps.client.request('POST', base, { body: secret });
  }
  deps.recorder.event(
    source,
    'Normal',
    'CertificateIssued',
    `Issued the adapter certificate in Secret ${secret.metadata!.name} (${verdict.reason})`,
  );
  return renewAt(notAfter(bundle.certPem));
}

/**
 * Gives a source whose sink has an audience its own ServiceAccount and keeps tokens of it minted;
 * takes both away when the audience goes (a deleted source's account goes by garbage collection).
 */
async function syncSinkIdentity(
  deps: SampleSourceReconcilerDeps,
  key: string,
  source: SampleSource,
  audience: string | undefined,
): Promise<void> {
  const identity = deps.sinkIdentity;
  if (!identity) return;
  const namespace = source.metadata.namespace;
  const name = sinkServiceAccountName(source);
  const base = `/api/v1/namespaces/${namespace}/serviceaccounts`;
  const existing = identity.serviceAccounts.get(`${namespace}/${name}`) as V1ServiceAccount | undefined;
  if (audience === undefined) {
    identity.tokens.forget(key);
    if (existing && isControlledBy(existing, source)) {
      try {
        await deps.client.request('DELETE', `${base}/${name}`);
      } catch (err) {
        if (isNotFound(err)) return; // an earlier pass deleted it; the cache has not caught up
        throw err;
      }
      deps.recorder.event(
        source,
        'Normal',
        'SinkServiceAccountDeleted',
        `Deleted ServiceAccount ${name}: the sink has no audience any more`,
      );
    }
    return;
  }
  if (existing && !isControlledBy(existing, source)) {
    throw new TerminalError(
      `ServiceAccount ${namespace}/${name} exists and is not controlled by this SampleSource; no sink token can be minted`,
    );
  }
  if (!existing) {
    try {
      await deps.client.request('POST', base, { body: buildSinkServiceAccount(source) });
      deps.recorder.event(
        source,
        'Normal',
        'SinkServiceAccountCreated',
        `Created ServiceAccount ${name} for tokens of audience ${audience}`,
      );
    } catch (err) {
      // Created by an earlier pass the cache has not seen yet: fine, it is ours by name and owner.
      if (!isAlreadyExists(err)) throw err;
    }
  }
  identity.tokens.want(key, namespace, name, audience);
}

async function applyDeployment(
  deps: SampleSourceReconcilerDeps,
  action: NonNullable<ReturnType<typeof planReconcile>['deployment']>,
) {
  const d = action.deployment;
  const base = `/apis/apps/v1/namespaces/${d.metadata!.namespace}/deployments`;
  if (action.action === 'create') await deps.client.request('POST', base, { body: d });
  else if (action.action === 'update')
    await deps.client.request('PUT', `${base}/${d.metadata!.name}`, { body: d });
}

/** Deletes a source's adapter Deployment and certificate Secret (it moved to the pool); 404 is fine. */
async function deleteDedicated(deps: SampleSourceReconcilerDeps, source: SampleSource): Promise<void> {
  const ns = source.metadata.namespace;
  const paths = [`/apis/apps/v1/namespaces/${ns}/deployments/${adapterDeploymentName(source)}`];
  if (controlledBy(deps.secrets.get(`${ns}/${certSecretName(source)}`), source.metadata.uid))
    paths.push(`/api/v1/namespaces/${ns}/secrets/${certSecretName(source)}`);
  for (const path of paths) {
    try {
      // Its pods go by garbage collection; planMode waits for the last one before the pool starts.
      await deps.client.request('DELETE', path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** Reads the source from the API server (after a conflict: the cache was behind); undefined when gone. */
async function readSource(client: KubeClient, key: string): Promise<SourceObject | undefined> {
  const { namespace, name } = parseKey(key);
  try {
    const fresh = await client.request<SourceObject>(
      'GET',
      resourcePath(SAMPLESOURCE_RESOURCE, namespace, name),
    );
    return fresh.metadata.deletionTimestamp ? undefined : fresh;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

type SourceObject = KubeObject & { status?: unknown };

/**
 * The longest a shared source's status write waits for the pool's own report (its result re-queues
 * the source): 5 s. Past it the status as it stands is written, so a pool that never answers still
 * shows on the source.
 */
export const POOL_SETTLE_HOLD_MS = 5_000;

/**
 * Builds the reconciler function for SampleSources. One pass: take the source from the informer
 * cache (or the status this reconciler wrote a moment ago, while the cache has not seen it), plan
 * once against it, act on the plan; the status patch is guarded by that resourceVersion, and a
 * conflict (the cache was behind, or someone wrote in between) re-queues the source, whose next
 * pass reads it fresh from the API server. Events are recorded only once the status they describe
 * is written (or needed no write), so a pass that loses a conflict records nothing twice.
 */
export function sampleSourceReconciler(deps: SampleSourceReconcilerDeps): Reconciler {
  const clock = deps.now ?? (() => new Date());
  const ownWrites = new OwnWrites<SourceObject>({ cached: (key) => deps.sources.get(key) });
  /** Keys whose last status write met a conflict: their next pass reads the source fresh. */
  const readFresh = new Set<string>();
  /** Shared sources whose status write waits for the pool's report: since when, for which generation. */
  const holding = new Map<string, { generation: number; since: number }>();
  /** How much longer the status of `key` may wait for the pool; undefined: write it now. */
  const holdFor = (key: string, generation: number): number | undefined => {
    if (!deps.pool?.settling(key)) return undefined;
    const now = clock().getTime();
    let hold = holding.get(key);
    if (hold?.generation !== generation) holding.set(key, (hold = { generation, since: now }));
    const left = hold.since + POOL_SETTLE_HOLD_MS - now;
    return left > 0 ? left : undefined;
  };
  /** A source that is gone: children go with their owner (garbage collection); only the sessions are ours to close. */
  const forgetSource = (key: string) => {
    deps.sessions.forget(key);
    deps.tracker?.untrack(key);
    deps.sinkIdentity?.tokens.forget(key);
    deps.pool?.removeSource(key);
    ownWrites.forget(key);
    readFresh.delete(key);
    holding.delete(key);
  };
  return async (_request: Request, ctx) => {
    const key = ctx.key;
    const known = ownWrites.get(key);
    let raw: SourceObject | undefined;
    if (known && !known.metadata.deletionTimestamp) {
      if (readFresh.delete(key)) {
        ownWrites.forget(key);
        raw = await readSource(deps.client, key);
      } else raw = known;
    }
    if (!raw) return forgetSource(key);
    const parsed = parseSampleSource(raw);
    const now = clock();
    let world: Parameters<typeof planReconcile>[1] = { readyPods: [], reports: new Map(), now };
    let renewCertAt: Date | undefined;
    if (parsed.ok) {
      const source = parsed.source;
      const shared = effectiveMode(source.spec, deps.plan.defaultMode ?? DEFAULT_SOURCE_MODE) === 'shared';
      // A shared source needs no adapter certificate; its dedicated adapters (if any) are on their way out.
      if (!shared) renewCertAt = await ensureCertSecret(deps, source, now);
      const pods = readyAdapterPods(deps.pods, source);
      // A shared source keeps the sessions of its dedicated pods until they are gone: a switch pauses them first.
      if (shared && pods.length === 0) deps.sessions.forget(key);
      else deps.sessions.sync(key, source.metadata.namespace, source.metadata.name, pods);
      const sinkLookup = await lookupSink(deps, key, source);
      const deployment = deps.deployments.get(
        `${source.metadata.namespace}/${adapterDeploymentName(source)}`,
      );
      const reports = deps.sessions.reports(key);
      const handover =
        shared && pods.length > 0
          ? handoverOf(
              source.metadata.generation,
              pods.map((p) => p.name),
              reports,
            )
          : undefined;
      const mode = observeModeWorld(
        source,
        deployment,
        deps.pods.list(source.metadata.namespace),
        pods.length,
        deps.pool,
        handover,
      );
      const sequenceFloor = shared ? undefined : deps.pool?.sequenceFloor(source.metadata.uid);
      world = {
        mode: mode.world,
        ...(mode.pool ? { pool: mode.pool } : {}),
        ...(handover ? { handover } : {}),
        ...(sequenceFloor !== undefined ? { sequenceFloor } : {}),
        ...(sinkLookup ? { sinkLookup } : {}),
        ...(deployment ? { deployment: deployment as unknown as V1Deployment } : {}),
        readyPods: pods.map((p) => p.name),
        // Sending marks a pod pending, which ConfigApplied counts like no report: the status
        // planned here is the one that holds after the sends below.
        reports,
        adapterStates: deps.sessions.adapterStates?.(key),
        now,
      };
    } else {
      deps.sessions.forget(key);
    }

    const plan = planReconcile(raw, world, deps.plan);
    // An unresolved sink leaves the identity as it is, like the Deployment: nothing is known to change.
    // A shared source has none (a refused audience leaves a Deployment it still has its account).
    const sharedPlan = plan.modePlan !== undefined && !plan.modePlan.applyDeployment;
    if (plan.source && plan.sink?.ok && (!sharedPlan || plan.sink.audience === undefined))
      await syncSinkIdentity(deps, key, plan.source, sharedPlan ? undefined : plan.sink.audience);
    if (plan.deployment) await applyDeployment(deps, plan.deployment);
    if (plan.deleteDeployment && plan.source) await deleteDedicated(deps, plan.source);
    if (plan.poolUpsert) deps.pool?.upsertSource(plan.poolUpsert);
    if (plan.poolRemove) deps.pool?.removeSource(key);
    if (plan.adapterState) {
      for (const pod of plan.sendTo) deps.sessions.send(key, pod, plan.adapterState);
      if (plan.sendTo.length > 0)
        ctx.log.info({ pods: plan.sendTo, state: plan.adapterState }, 'sent desired state');
    }
    // A shared source just sent to the pool (or sent a new generation) has nothing to tell yet: the
    // pool's result re-queues it within moments, and that pass writes the status once, Ready or not.
    const holdMs =
      plan.poolUpsert && plan.statusChanged && plan.events.length === 0
        ? holdFor(key, raw.metadata.generation ?? 0)
        : undefined;
    if (holdMs !== undefined) return { requeueAfterMs: holdMs };
    holding.delete(key);
    if (plan.status && plan.statusChanged) {
      try {
        const written = await writeStatus(deps.client, SAMPLESOURCE_RESOURCE, raw, plan.status);
        ownWrites.remember(key, raw.metadata.resourceVersion, written);
      } catch (err) {
        // Deleted while we worked, or before the cache was told: the same as a pass that found it gone.
        if (isNotFound(err)) return forgetSource(key);
        if (isConflict(err)) {
          // Our view was behind (or someone wrote meanwhile): plan again against the object as stored.
          readFresh.add(key);
          return { requeue: true };
        }
        throw err;
      }
    }
    for (const e of plan.events) deps.recorder.event(raw, e.type, e.reason, e.message);
    // A sink we may not read (RBAC) or could not read has no watch to tell us it changed: look again.
    const lookup = world.sinkLookup;
    const sinkUnreadable = lookup !== undefined && ('forbidden' in lookup || 'error' in lookup);
    // Nothing else may happen to a quiet source before its certificate needs renewing: come back then.
    const renewInMs = renewCertAt ? Math.max(1_000, renewCertAt.getTime() - clock().getTime()) : undefined;
    if (sinkUnreadable) return { requeueAfterMs: Math.min(UNREADABLE_SINK_RETRY_MS, renewInMs ?? Infinity) };
    if (renewInMs !== undefined) return { requeueAfterMs: renewInMs };
  };
}
