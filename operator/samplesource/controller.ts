// Wires the SampleSource reconciler into a Manager: which caches it reads, which events re-queue
// a source (its own changes, its Deployment, Secret and pods, the Services sinks point at, and
// asynchronous results from its adapters, through a channel source). The control sessions are a
// leader-bound runnable of the manager.
import type { Logger } from 'pino';
import {
  type Controller,
  type KubeObject,
  type Manager,
  generationChanged,
  metadataChanged,
  DynamicInformers,
  Tracker,
  anyOf,
  objectKey,
  ChannelSource,
} from '../runtime/index.js';
import { SAMPLESOURCE_RESOURCE } from './resource.js';
import { API_VERSION, KIND } from '../../contract/samplesource.js';
import { ADAPTER_POD_SELECTOR, SOURCE_NAME_LABEL } from './resources.js';
import { AdapterSessions } from './sessions.js';
import { dialOnReady } from './dial-on-ready.js';
import { SinkTokens } from './sink-tokens.js';
import { sampleSourceReconciler } from './reconciler.js';
import type { OperatorPki } from './operator-pki.js';
import type { PlanOptions } from './desired-state.js';
import { OPERATOR_IDENTITY } from '../../contract/identities.js';
import { PoolRunnable } from '../pool/pool-runnable.js';
import { poolMembers, POOL_POD_SELECTOR } from '../pool/pool-pods.js';
import { PoolCertificate } from './pool-certificate.js';
import { deploymentChanged, podChanged } from './child-predicates.js';

/** Options of {@link setupSampleSourceController}. */
export interface SampleSourceControllerOptions {
  pki: OperatorPki;
  plan: PlanOptions;
  controlPort: number;
  workers: number;
  logger: Logger;
  /** The shared pool in the operator's namespace. Default none: shared sources are never placed. */
  pool?: PoolWiringOptions;
}

/** Where the shared pool's pods are and how to reach them. */
export interface PoolWiringOptions {
  /** The operator's namespace: the pool Deployment's pods and the pool certificate Secret live here. */
  namespace: string;
  /** Label selector of the pool pods. Default {@link POOL_POD_SELECTOR}. */
  selector?: string;
  /** Port of the pool pods' control servers. Default 9443. */
  controlPort?: number;
  /** Secret the pool certificate is issued into. Default samplesource-pool-tls. */
  secretName?: string;
  /** Default 8 s (see PoolSessionsOptions). */
  deadPeerBoundMs?: number;
}

/** The controller and the sessions it steers. */
export interface SampleSourceController {
  controller: Controller;
  sessions: AdapterSessions;
  /** Sink refs to Addressables (anything but a core Service), mapped back to their sources. */
  tracker: Tracker;
  /** The informers of referenced Addressable kinds (a leader-bound runnable of the manager). */
  addressables: DynamicInformers;
  /** Tokens for OIDC sinks (a leader-bound runnable of the manager). */
  sinkTokens: SinkTokens;
  /** The shared pool's sessions (a leader-bound runnable), when configured. */
  pool?: PoolRunnable;
}

const owner = { apiVersion: API_VERSION, kind: KIND };

/** Registers informers and the controller on `manager`. */
export function setupSampleSourceController(
  manager: Manager,
  options: SampleSourceControllerOptions,
): SampleSourceController {
  const sources = manager.informer({ resource: SAMPLESOURCE_RESOURCE });
  const deployments = manager.informer({
    resource: { apiVersion: 'apps/v1', plural: 'deployments', kind: 'Deployment' },
    labelSelector: ADAPTER_POD_SELECTOR,
  });
  const pods = manager.informer({
    resource: { apiVersion: 'v1', plural: 'pods', kind: 'Pod' },
    labelSelector: ADAPTER_POD_SELECTOR,
  });
  const secrets = manager.informer({
    resource: { apiVersion: 'v1', plural: 'secrets', kind: 'Secret' },
    labelSelector: ADAPTER_POD_SELECTOR,
  });
  const services = manager.informer({ resource: { apiVersion: 'v1', plural: 'services', kind: 'Service' } });
  // The operator's own sink ServiceAccounts only (OIDC sinks), by the adapters' label.
  const serviceAccounts = manager.informer({
    resource: { apiVersion: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount' },
    labelSelector: ADAPTER_POD_SELECTOR,
  });

  // Session results re-queue their source through a channel: the sessions never see the controller.
  const sessionChanges = new ChannelSource<string>();
  const sessions = manager.add(
    new AdapterSessions({
      tls: options.pki.operatorTls,
      identity: OPERATOR_IDENTITY,
      controlPort: options.controlPort,
      onChange: (key) => sessionChanges.send(key),
      logger: options.logger.child({ component: 'sessions' }),
      metrics: manager.metrics.registry,
    }),
  );
  // Tokens for OIDC sinks go straight to the sessions, which send them now and on every reconnect.
  const sinkTokens = manager.add(
    new SinkTokens({
      client: manager.client,
      onToken: (key, grant) => sessions.setSinkToken(key, grant),
      logger: options.logger.child({ component: 'sink-tokens' }),
    }),
  );
  // Sink refs to Addressables re-queue their sources through a channel too (no informer of ours).
  const sinkChanges = new ChannelSource<string>();
  const tracker = new Tracker({
    enqueue: (key) => sinkChanges.send(key),
    watcher: { watch: (k) => addressables.watch(k), unwatch: (k) => addressables.unwatch(k) },
  });
  // An Addressable that appears, changes its address or goes re-resolves every source naming it.
  const addressables = new DynamicInformers(manager.client, {
    onEvent: (obj) => tracker.onChanged(obj),
    logger: options.logger,
    metrics: manager.metrics,
  });
  // Watches run while this replica leads (reconciles, hence references, happen only then); a new
  // term re-tracks every source, which starts them again.
  manager.add({
    name: 'addressable-informers',
    run: async (signal) => {
      addressables.resume();
      await new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await addressables.stop();
    },
  });
  // The shared pool: its sessions and certificate are leader-bound runnables; the Pod watch of its
  // members runs on every replica (caches stay warm), and pool results re-queue through a channel.
  const poolChanges = new ChannelSource<string>();
  let pool: PoolRunnable | undefined;
  if (options.pool) {
    const poolOptions = options.pool;
    const runnable = manager.add(
      new PoolRunnable({
        tls: options.pki.operatorTls,
        identity: OPERATOR_IDENTITY,
        ...(poolOptions.deadPeerBoundMs !== undefined
          ? { deadPeerBoundMs: poolOptions.deadPeerBoundMs }
          : {}),
        onChange: (key) => poolChanges.send(key),
        logger: options.logger.child({ component: 'pool' }),
        metrics: manager.metrics.registry,
      }),
    );
    pool = runnable;
    const poolPods = manager.informer({
      resource: { apiVersion: 'v1', plural: 'pods', kind: 'Pod' },
      namespace: poolOptions.namespace,
      labelSelector: poolOptions.selector ?? POOL_POD_SELECTOR,
    });
    const syncMembers = () =>
      runnable.setPods(poolMembers(poolPods.lister.list(), poolOptions.controlPort ?? 9443));
    poolPods.addHandler({ onAdd: syncMembers, onUpdate: syncMembers, onDelete: syncMembers });
    manager.add(
      new PoolCertificate({
        client: manager.client,
        pki: options.pki,
        namespace: poolOptions.namespace,
        ...(poolOptions.secretName ? { secretName: poolOptions.secretName } : {}),
        logger: options.logger.child({ component: 'pool-certificate' }),
      }),
    );
  }
  const recorder = manager.eventRecorder({ component: 'samplesource-controller' });
  const controller = manager.controller({
    name: 'samplesource',
    workers: options.workers,
    reconcile: sampleSourceReconciler({
      client: manager.client,
      sources: sources.lister,
      deployments: deployments.lister,
      pods: pods.lister,
      secrets: secrets.lister,
      sessions,
      pki: options.pki,
      recorder,
      plan: options.plan,
      tracker,
      addressables,
      sinkIdentity: { serviceAccounts: serviceAccounts.lister, tokens: sinkTokens },
      ...(pool ? { pool } : {}),
    }),
  });

  controller.watchesChannel(sessionChanges);
  controller.watchesChannel(sinkChanges);
  controller.watchesChannel(poolChanges);
  // Status writes bump neither generation nor labels: filtering them out avoids a reconcile per write.
  controller.for(sources, anyOf(generationChanged(), metadataChanged()));
  // Status counters and timestamps of children are not read: only what a reconcile uses re-queues.
  controller.owns(deployments, owner, deploymentChanged());
  controller.owns(secrets, owner);
  controller.owns(serviceAccounts, owner);
  // A steered pod turning Ready again (a restarted adapter) is dialled at once, ahead of its reconcile.
  pods.addHandler(dialOnReady(sessions));
  // Pods are owned by ReplicaSets; the source label leads back to the source.
  controller.watches(
    pods,
    (pod: KubeObject) => {
      const name = pod.metadata.labels?.[SOURCE_NAME_LABEL];
      return name ? [`${pod.metadata.namespace}/${name}`] : [];
    },
    podChanged(),
  );
  // A sink Service that appears, changes or goes re-resolves every source pointing at it.
  controller.watches(services, (svc: KubeObject) =>
    sources.lister
      .list(svc.metadata.namespace)
      .filter((s) => {
        const ref = (
          s as { spec?: { sink?: { ref?: { kind?: string; name?: string; namespace?: string } } } }
        ).spec?.sink?.ref;
        return (
          ref?.kind === 'Service' &&
          ref.name === svc.metadata.name &&
          (ref.namespace ?? s.metadata.namespace) === svc.metadata.namespace
        );
      })
      .map((s) => objectKey(s)),
  );
  return { controller, sessions, tracker, addressables, sinkTokens, ...(pool ? { pool } : {}) };
}
