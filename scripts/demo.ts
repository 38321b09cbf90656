// `make demo`: a local, real control plane with nothing else to install, and how to use it.
import { startControlPlane } from '../test/controlplane/controlplane.js';

async function main(): Promise<void> {
  console.log('starting etcd, kube-apiserver and kube-controller-manager on loopback…');
  const cp = await startControlPlane({ controllerManager: true });
  const stop = async (signal: string) => {
    console.log(`\n${signal}: stopping the control plane…`);
    await cp.stop();
    console.log(`stopped; logs kept in ${cp.logDir}`);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  console.log(`
control plane ready in ${(cp.startupMs / 1000).toFixed(1)} s at ${cp.server}

In a second terminal:
  export KUBECONFIG=${cp.adminKubeconfig}
  alias kubectl=${cp.kubectlPath}
  kubectl version
  kubectl apply -f config/           # the SampleSource CRD, RBAC and operator manifests
  kubectl apply -f example.yaml
  kubectl get samplesources

Logs: ${cp.logDir}
Ctrl-C stops everything.`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
