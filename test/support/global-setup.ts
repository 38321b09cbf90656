// Jest global setup for the `cluster` project: one real control plane per test run.
// Workers find it through environment variables (they are forked after this runs).
import type { ControlPlane } from '../controlplane/controlplane.js';

// Registers the './x.js' -> './x.ts' mapping Node's own loader needs for the dynamic imports below.
import './ts-resolve-hooks.mjs';

declare global {
  var __samplesourceControlPlane: ControlPlane | undefined;
}

export default async function globalSetup(): Promise<void> {
  if (process.env.E2E_PLATFORM === 'kind') {
    // An existing cluster (make e2e-kind): the user's kubeconfig and kubectl, nothing started here.
    const { mkdirSync } = await import('node:fs');
    const { homedir } = await import('node:os');
    const logs = `${process.cwd()}/.tmp/logs/kind-${Date.now()}`;
    mkdirSync(logs, { recursive: true });
    process.env.SAMPLESOURCE_KUBECONFIG ??= process.env.KUBECONFIG ?? `${homedir()}/.kube/config`;
    process.env.SAMPLESOURCE_KUBECTL ??= 'kubectl';
    process.env.SAMPLESOURCE_CP_LOGS ??= logs;
    return;
  }
  const { startControlPlane, exportControlPlaneEnv } = await import('../controlplane/controlplane.js');
  const cp = await startControlPlane({ controllerManager: true });
  globalThis.__samplesourceControlPlane = cp;
  exportControlPlaneEnv(cp);
  console.log(`\ncontrol plane ready in ${cp.startupMs} ms at ${cp.server}; logs in ${cp.logDir}`);
}
