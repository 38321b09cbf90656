// Set-up shared by the runtime's cluster tests (real kube-apiserver): a Manager with the test
// cluster's admin credentials and no probe server, and the ConfigMap informer those tests drive.
import { adminKubeConfig } from './cluster.js';
import { silentLogger } from '../../operator/runtime/logger.js';
import { Manager, type ManagerOptions } from '../../operator/runtime/manager.js';
import type { Informer } from '../../operator/runtime/informer.js';
import type { KubeObject } from '../../operator/runtime/objects.js';

/** A Manager on the test cluster, silent, without a health server unless `options` says otherwise. */
export function testManager(options: ManagerOptions = {}): Manager {
  return new Manager({ kubeConfig: adminKubeConfig(), logger: silentLogger(), health: false, ...options });
}

/** An informer of the ConfigMaps in one namespace, optionally only those matching a label selector. */
export function configMapInformer(
  mgr: Manager,
  namespace: string,
  labelSelector?: string,
): Informer<KubeObject> {
  return mgr.informer<KubeObject>({
    resource: { apiVersion: 'v1', plural: 'configmaps' },
    namespace,
    ...(labelSelector !== undefined ? { labelSelector } : {}),
  });
}
