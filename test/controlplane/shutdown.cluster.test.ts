// Stopping a control plane leaves no process and no data directory behind.
import { existsSync } from 'node:fs';
import { isAlive } from './processes.js';
import { startControlPlane } from './controlplane.js';

describe('control plane shutdown', () => {
  it('stops every process it started and removes its data directory, and a second stop is harmless', async () => {
    const cp = await startControlPlane({ controllerManager: true, binDir: process.env.SAMPLESOURCE_CP_BIN });
    const pids = cp.processes.map((p) => p.pid);
    expect(cp.processes.map((p) => p.name)).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager']);
    expect(pids.every(isAlive)).toBe(true);
    expect(existsSync(cp.clientCaDir)).toBe(true);

    await cp.stop();

    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(cp.clientCaDir)).toBe(false);
    expect(existsSync(cp.logDir)).toBe(true); // logs are kept for whoever reads a failure
    await expect(cp.stop()).resolves.toBeUndefined();
  });
});
