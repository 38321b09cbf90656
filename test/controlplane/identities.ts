// Kubeconfigs for identities other than admin: certificate users and ServiceAccounts.
import { join } from 'node:path';
import type { CertificateAuthority } from '../../control/pki.js';
import { writeKubeconfig } from './kubeconfig.js';

/** What is needed to mint kubeconfigs for a control plane. */
export interface IdentityContext {
  server: string;
  servingCaPem: string;
  clientCa: CertificateAuthority;
  /** Directory the kubeconfigs are written to. */
  outDir: string;
  /** Requests a ServiceAccount token (TokenRequest API) as admin; resolves with the token. */
  requestToken(namespace: string, name: string, expirationSeconds: number): Promise<string>;
}

let serial = 0;
const safe = (s: string) => s.replace(/[^a-zA-Z0-9.-]/g, '_');

/** A kubeconfig for a user authenticated by a client certificate; `groups` become its organizations. */
export async function kubeconfigForUser(
  ctx: IdentityContext,
  user: string,
  groups: string[] = [],
): Promise<string> {
  const leaf = await ctx.clientCa.issue({ commonName: user, organizations: groups, usages: ['client'] });
  const file = join(ctx.outDir, `user-${process.pid}-${++serial}-${safe(user)}.kubeconfig`);
  return writeKubeconfig(file, ctx.server, ctx.servingCaPem, user, {
    clientCertPem: leaf.certPem,
    clientKeyPem: leaf.keyPem,
  });
}

/** A kubeconfig holding a real, apiserver-signed token of an existing ServiceAccount. */
export async function kubeconfigForServiceAccount(
  ctx: IdentityContext,
  namespace: string,
  name: string,
): Promise<string> {
  const token = await ctx.requestToken(namespace, name, 24 * 3600);
  const file = join(ctx.outDir, `sa-${process.pid}-${++serial}-${safe(namespace)}-${safe(name)}.kubeconfig`);
  return writeKubeconfig(file, ctx.server, ctx.servingCaPem, `system:serviceaccount:${namespace}:${name}`, {
    token,
  });
}
