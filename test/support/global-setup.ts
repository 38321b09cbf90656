// Jest global setup for the `cluster` project: one real control plane per test run.
// Workers find it through environment variables (they are forked after this runs).
import { registerHooks } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ControlPlane } from '../controlplane/controlplane.js';

declare global {
  var __samplesourceControlPlane: ControlPlane | undefined;
}

// Jest loads an ESM global setup with Node's own loader, not jest's resolver, so the NodeNext-style
// './x.js' imports of our TypeScript sources must be mapped to './x.ts' here (Node 24 strips the types).
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
      const candidate = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
      if (existsSync(fileURLToPath(candidate))) return nextResolve(candidate.href, context);
    }
    return nextResolve(specifier, context);
  },
});

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
