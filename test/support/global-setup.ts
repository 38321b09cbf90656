// Jest global setup for the `cluster` project: one real control plane per test run.
// Workers find it through environment variables (they are forked after this runs).
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.js';

declare global {
  var __samplesourceControlPlane: ControlPlane | undefined;
}

export default async function globalSetup(): Promise<void> {
  const cp = await startControlPlane({ controllerManager: true });
  globalThis.__samplesourceControlPlane = cp;
  process.env.SAMPLESOURCE_KUBECONFIG = cp.adminKubeconfig;
  process.env.SAMPLESOURCE_KUBECTL = cp.kubectlPath;
  process.env.SAMPLESOURCE_CP_BIN = cp.binDir;
  process.env.SAMPLESOURCE_CP_LOGS = cp.logDir;
  process.env.SAMPLESOURCE_CP_SERVER = cp.server;
  process.env.SAMPLESOURCE_CP_CLIENT_CA_DIR = cp.clientCaDir;
  console.log(`\ncontrol plane ready in ${cp.startupMs} ms at ${cp.server}; logs in ${cp.logDir}`);
}
