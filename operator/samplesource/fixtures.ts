// Fixtures shared by the reconcile table tests (desired-state and reconciler, dedicated and shared):
// one SampleSource as the API server returns it, its adapter Deployment and pods as the API server
// holds them, and one reconcile of it with the Events recorded. Test-only; nothing in the operator
// imports this.
import type { V1Deployment, V1Pod, V1Secret } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Cache, silentLogger, type KubeObject, type Result } from '../runtime/index.js';
import { RecordingFakeClient } from '../runtime/testing.js';
import {
  parseSampleSource,
  type SampleSource,
  type SampleSourceStatus,
} from '../../contract/samplesource.js';
import { buildCertSecret } from './certs-secret.js';
import { OperatorPki } from './operator-pki.js';
import { sampleSourceReconciler, type SampleSourceReconcilerDeps } from './reconciler.js';
import type { PoolPort } from '../pool/pool-runnable.js';
import type { SharedSource, SharedSourceStatus } from '../pool/pool-sessions.js';
import {
  buildAdapterDeployment,
  SOURCE_NAME_LABEL,
  SOURCE_UID_LABEL,
  type AdapterOptions,
} from './resources.js';

export const NOW = new Date('2026-11-25T12:00:00Z');
export const UID = 'c0ffee00-0000-4000-8000-000000000001';

/** `demo/sample-source`, sinking to the `display` Service, two replicas; `spec` overrides fields. */
export function sampleSourceObject(
  spec: Record<string, unknown> = {},
  generation = 1,
  status?: SampleSourceStatus,
) {
  return {
    apiVersion: 'samples.knative.dev/v1alpha1',
    kind: 'SampleSource',
    metadata: { name: 'sample-source', namespace: 'demo', uid: UID, generation, resourceVersion: '7' },
    spec: { sink: { ref: { apiVersion: 'v1', kind: 'Service', name: 'display' } }, replicas: 2, ...spec },
    ...(status ? { status } : {}),
  };
}

/**
 * `demo/sample-source` as the operator holds it once parsed (spec defaults filled in), sinking to
 * a plain URI; `spec` overrides fields. For the pure status and planning tests.
 */
export function parsedSource(
  generation = 2,
  spec: Partial<SampleSource['spec']> = {},
  status?: SampleSourceStatus,
): SampleSource {
  return {
    apiVersion: 'samples.knative.dev/v1alpha1',
    kind: 'SampleSource',
    metadata: { name: 'sample-source', namespace: 'demo', uid: 'uid-1', generation },
    spec: {
      interval: '10s',
      paused: false,
      replicas: 2,
      sink: { uri: 'http://display.demo.svc.cluster.local' },
      ...spec,
    },
    ...(status ? { status } : {}),
  };
}

/** Parses a fixture; a fixture that does not parse is a broken test, not a case. */
export function validSource(obj: unknown): SampleSource {
  const parsed = parseSampleSource(obj);
  if (!parsed.ok) throw new Error('fixture is invalid');
  return parsed.source;
}

/** The adapter Deployment at generation 1, observed by the Deployment controller, Available or not. */
export function storedDeployment(
  source: SampleSource,
  sinkUri: string,
  adapter: AdapterOptions,
  available = true,
): V1Deployment {
  const d = buildAdapterDeployment(source, sinkUri, adapter);
  d.metadata!.generation = 1;
  d.metadata!.resourceVersion = '11';
  d.status = {
    observedGeneration: 1,
    conditions: [
      {
        type: 'Available',
        status: available ? 'True' : 'False',
        reason: available ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
      },
    ],
  };
  return d;
}

/** An operator CA (on a fake client) and the certificate Secret it issues for `source`. */
export async function testAdapterPki(
  source: SampleSource,
): Promise<{ pki: OperatorPki; certSecret: V1Secret }> {
  const pki = await OperatorPki.load(new RecordingFakeClient(), {
    namespace: 'samplesource-system',
    logger: pino({ level: 'silent' }),
  });
  return { pki, certSecret: buildCertSecret(source, await pki.issueAdapter(source)) };
}

/** An informer cache holding `items` (a table row's view of the cluster). */
export function cacheOf(items: readonly object[]): Cache<KubeObject> {
  const cache = new Cache<KubeObject>();
  for (const item of items) cache.upsert(item as unknown as KubeObject);
  return cache;
}

/** The `display` Service the fixture source sinks to, as the API server holds it. */
export const DISPLAY_SERVICE = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'display', namespace: 'demo' },
};

/** An adapter pod of the fixture source (its uid and name labels), Running, Ready or not. */
export function adapterPod(name: string, ready: boolean, podIP: string): V1Pod {
  return {
    metadata: {
      name,
      namespace: 'demo',
      uid: `uid-${name}`,
      labels: { [SOURCE_UID_LABEL]: UID, [SOURCE_NAME_LABEL]: 'sample-source' },
    },
    status: {
      phase: 'Running',
      podIP,
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  };
}

/** A status's conditions in the tables' shorthand: type → "Status/Reason" (or "Status" without a reason). */
export function conditionsOf(status: unknown): Record<string, string> {
  const conditions = (status as SampleSourceStatus | undefined)?.conditions ?? [];
  return Object.fromEntries(conditions.map((c) => [c.type, c.reason ? `${c.status}/${c.reason}` : c.status]));
}

/**
 * The reconciler of demo/sample-source over `deps`, at {@link NOW} (or `deps.now`), recording Events as
 * "Type Reason"; `reconcile()` runs one pass (a first attempt, not a retry).
 */
export function fixtureReconciler(
  deps: Omit<SampleSourceReconcilerDeps, 'recorder' | 'now'> & { now?: () => Date },
): {
  reconcile: () => Promise<Result | void>;
  events: string[];
} {
  const events: string[] = [];
  const reconciler = sampleSourceReconciler({
    now: () => NOW,
    ...deps,
    recorder: { event: (_obj, type, reason) => void events.push(`${type} ${reason}`) },
  });
  const ctx = {
    key: 'demo/sample-source',
    signal: new AbortController().signal,
    log: silentLogger(),
    retries: 0,
  };
  return { reconcile: () => reconciler({ namespace: 'demo', name: 'sample-source' }, ctx), events };
}

/** The pool as the reconciler sees it: what was upserted and removed, and canned statuses. */
export class FakePool implements PoolPort {
  readonly log: string[] = [];
  constructor(readonly canned = new Map<string, SharedSourceStatus>()) {}
  upsertSource(source: SharedSource): void {
    this.log.push(
      `upsert ${source.key} g${String(source.generation)} ${source.interval}${source.paused ? ' paused' : ''}${source.sequenceFloor !== undefined ? ` from ${source.sequenceFloor}` : ''}`,
    );
  }
  removeSource(key: string): void {
    this.log.push(`remove ${key}`);
  }
  status(key: string): SharedSourceStatus | undefined {
    return this.canned.get(key);
  }
  floor: number | undefined;
  sequenceFloor(): number | undefined {
    return this.floor;
  }
  /** Keys the pool is about to report on by itself. */
  readonly settlingKeys = new Set<string>();
  settling(key: string): boolean {
    return this.settlingKeys.has(key);
  }
}
