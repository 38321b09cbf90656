// Jest global teardown: stops the real node (if any) and the control plane started by the global setup, even after failures.
export default async function globalTeardown(): Promise<void> {
  await globalThis.__samplesourceNode?.stop();
  await globalThis.__samplesourceControlPlane?.stop();
}
