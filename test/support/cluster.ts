// What a test in the `cluster` project needs: an admin client for the shared control plane,
// a fresh namespace per test, and kubeconfigs for other identities.
import * as k8s from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { pollUntil } from '../controlplane/processes.js';

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(`${name} is not set: run this test through jest's cluster project (global setup)`);
  return value;
}

/** Admin kubeconfig of the shared test control plane. */
export function adminKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(requiredEnv('SAMPLESOURCE_KUBECONFIG'));
  return kc;
}

/** Path of the admin kubeconfig file. */
export function adminKubeconfigPath(): string {
  return requiredEnv('SAMPLESOURCE_KUBECONFIG');
}

/** Where the control plane writes its logs; failing tests name it. */
export function controlPlaneLogs(): string {
  return process.env.SAMPLESOURCE_CP_LOGS ?? '(unknown)';
}

/** Runs the project's kubectl (built with the server) as admin, or with another kubeconfig. */
export function kubectl(args: string[], options: { input?: string; kubeconfig?: string } = {}): string {
  return execFileSync(
    requiredEnv('SAMPLESOURCE_KUBECTL'),
    [`--kubeconfig=${options.kubeconfig ?? adminKubeconfigPath()}`, ...args],
    { encoding: 'utf8', input: options.input, stdio: ['pipe', 'pipe', 'pipe'] },
  );
}

/** Creates a uniquely named namespace and returns its name with a cleanup function. */
export async function freshNamespace(
  prefix = 'test',
): Promise<{ name: string; cleanup: () => Promise<void> }> {
  const core = adminKubeConfig().makeApiClient(k8s.CoreV1Api);
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name } } });
  return {
    name,
    cleanup: async () => {
      await core.deleteNamespace({ name }).catch(() => undefined);
    },
  };
}

/** Polls until `check` returns a value other than undefined, or fails with `what` (and where the logs are) after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  return pollUntil(what, check, timeoutMs).catch((err: Error) => {
    throw new Error(`${err.message}; control plane logs: ${controlPlaneLogs()}`, { cause: err });
  });
}
