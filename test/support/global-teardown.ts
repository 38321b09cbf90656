// Jest global teardown: stops the control plane started by global-setup.ts, even after failures.
export default async function globalTeardown(): Promise<void> {
  await globalThis.__samplesourceControlPlane?.stop();
}
