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
  anyOf,
  objectKey,
  ChannelSource,
} from '../runtime/index.js';
import { SAMPLESOURCE_RESOURCE } from './resource.js';
import { API_VERSION, KIND } from '../../contract/samplesource.js';
import { ADAPTER_POD_SELECTOR, SOURCE_NAME_LABEL } from './resources.js';
import { AdapterSessions } from './sessions.js';
import { sampleSourceReconciler } from './reconciler.js';
import type { OperatorPki } from './operator-pki.js';
import type { PlanOptions } from './desired-state.js';
import { OPERATOR_IDENTITY } from '../../contract/identities.js';

/** Options of {@link setupSampleSourceController}. */
export interface SampleSourceControllerOptions {
  pki: OperatorPki;
  plan: PlanOptions;
  controlPort: number;
  workers: number;
  logger: Logger;
}

/** The controller and the sessions it steers. */
export interface SampleSourceController {
  controller: Controller;
  sessions: AdapterSessions;
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
    }),
  });

  controller.watchesChannel(sessionChanges);
  // Status writes bump neither generation nor labels: filtering them out avoids a reconcile per write.
  controller.for(sources, anyOf(generationChanged(), metadataChanged()));
  controller.owns(deployments, owner);
  controller.owns(secrets, owner);
  // Pods are owned by ReplicaSets; the source label leads back to the source.
  controller.watches(pods, (pod: KubeObject) => {
    const name = pod.metadata.labels?.[SOURCE_NAME_LABEL];
    return name ? [`${pod.metadata.namespace}/${name}`] : [];
  });
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
  return { controller, sessions };
}
