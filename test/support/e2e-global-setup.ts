// Jest global setup for the end-to-end suite. E2E_PLATFORM picks what runs the pods:
//   node (default)  the real node (test/node): kubelet, containerd and runc beside a real control
//                   plane, both images built from their Dockerfiles by BuildKit; what CI runs;
//   local           the node agent (test/nodeagent): pods as plain processes, for machines without
//                   root or namespaces (docs/decisions/0005-real-node.md);
//   kind            an existing cluster (make e2e-kind): nothing started here.
// Registers the './x.js' -> './x.ts' mapping Node's own loader needs for the dynamic imports below.
import './ts-resolve-hooks.mjs';
import type { RealNode } from '../node/node.js';

declare global {
  var __samplesourceNode: RealNode | undefined;
}

export default async function globalSetup(): Promise<void> {
  const platform = process.env.E2E_PLATFORM ?? 'node';
  if (platform !== 'node') return (await import('./global-setup.js')).default();
  const { prepareNode, realNodeSupported, baseImagesDir } = await import('../node/node.js');
  const { ensureProjectImages } = await import('../node/images.js');
  const { exportNodeEnv } = await import('../node/client.js');
  const { startControlPlane, exportControlPlaneEnv } = await import('../controlplane/controlplane.js');
  const supported = realNodeSupported();
  if (!supported.ok)
    throw new Error(
      `the real node cannot run here (${supported.reason}); run the suite on the node agent with E2E_PLATFORM=local`,
    );
  const t0 = Date.now();
  const node = await prepareNode();
  globalThis.__samplesourceNode = node;
  try {
    const cp = await startControlPlane({
      controllerManager: true,
      realNode: { hostAddress: node.network.hostAddress, schedulerPath: `${node.binDir}/kube-scheduler` },
    });
    globalThis.__samplesourceControlPlane = cp;
    await node.start(cp);
    const t1 = Date.now();
    const images = await ensureProjectImages(node, baseImagesDir(node.binDir));
    exportControlPlaneEnv(cp);
    exportNodeEnv(node.handle);
    process.env.E2E_PLATFORM = 'node';
    const mb = (b: number | undefined) => `${((b ?? 0) / 1024 / 1024).toFixed(1)} MiB`;
    console.log(
      `\nreal node ${node.name} Ready ${node.readyMs} ms after kubelet started (control plane + node ${t1 - t0} ms); ` +
        `images ${images.built ? 'built by BuildKit' : 'from cache'} in ${images.buildMs} ms ` +
        `(${Object.entries(images.sizes)
          .map(([n, s]) => `${n} ${mb(s)}`)
          .join(', ')}); logs in ${cp.logDir} and ${node.logDir}`,
    );
  } catch (err) {
    await node.stop();
    await globalThis.__samplesourceControlPlane?.stop();
    throw err;
  }
}
