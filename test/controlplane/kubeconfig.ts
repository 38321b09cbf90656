// Kubeconfig files for the test control plane: admin (client certificate) and any other identity.
import { writeFile } from 'node:fs/promises';

/** How a kubeconfig authenticates. */
export type KubeCredentials = { clientCertPem: string; clientKeyPem: string } | { token: string };

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Renders a single-context kubeconfig as YAML-compatible JSON (kubectl reads JSON too). */
export function renderKubeconfig(
  server: string,
  caPem: string,
  user: string,
  credentials: KubeCredentials,
): string {
  const userEntry =
    'token' in credentials
      ? { token: credentials.token }
      : {
          'client-certificate-data': b64(credentials.clientCertPem),
          'client-key-data': b64(credentials.clientKeyPem),
        };
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'samplesource-local', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name: user, user: userEntry }],
    contexts: [{ name: 'samplesource-local', context: { cluster: 'samplesource-local', user } }],
    'current-context': 'samplesource-local',
  };
  return JSON.stringify(config, null, 2) + '\n';
}

/** Writes a kubeconfig readable only by its owner (it holds credentials). */
export async function writeKubeconfig(
  path: string,
  server: string,
  caPem: string,
  user: string,
  credentials: KubeCredentials,
): Promise<string> {
  await writeFile(path, renderKubeconfig(server, caPem, user, credentials), { mode: 0o600 });
  return path;
}
