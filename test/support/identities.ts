// Identity kubeconfigs for tests running in jest workers, minted from the shared control plane's files.
import * as k8s from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { loadCertificateAuthority } from '../../control/pki.js';
import * as identities from '../controlplane/identities.js';
import { adminKubeConfig, controlPlaneLogs } from './cluster.js';

async function context(): Promise<identities.IdentityContext> {
  const caDir = process.env.SAMPLESOURCE_CP_CLIENT_CA_DIR;
  if (!caDir) throw new Error('SAMPLESOURCE_CP_CLIENT_CA_DIR is not set: run through jest global setup');
  const kc = adminKubeConfig();
  const cluster = kc.getCurrentCluster()!;
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return {
    server: cluster.server,
    servingCaPem: Buffer.from(cluster.caData!, 'base64').toString('utf8'),
    clientCa: await loadCertificateAuthority({
      certPem: readFileSync(`${caDir}/client-ca.crt`, 'utf8'),
      keyPem: readFileSync(`${caDir}/client-ca.key`, 'utf8'),
    }),
    outDir: controlPlaneLogs(),
    async requestToken(namespace, name, expirationSeconds) {
      const res = await core.createNamespacedServiceAccountToken({
        namespace,
        name,
        body: { spec: { audiences: [], expirationSeconds } },
      });
      const token = res.status?.token;
      if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
      return token;
    },
  };
}

/** A kubeconfig for a certificate-authenticated user of the shared control plane. */
export async function kubeconfigForUser(user: string, groups: string[] = []): Promise<string> {
  return identities.kubeconfigForUser(await context(), user, groups);
}

/** A kubeconfig with a real token of an existing ServiceAccount of the shared control plane. */
export async function kubeconfigForServiceAccount(namespace: string, name: string): Promise<string> {
  return identities.kubeconfigForServiceAccount(await context(), namespace, name);
}
