// Pool pods as real child processes (so that a SIGKILL is a real one) for the operator's pool
// tests and benchmarks: spawned from adapter/pool/main.ts through the project's TS hooks.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const adapterDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'adapter');

/** A running pool pod process. */
export interface PoolProcess {
  name: string;
  child: ChildProcess;
  /** 127.0.0.1:<control port>. */
  target: string;
  exited: Promise<void>;
}

/** Spawns one pool pod on loopback ports picked by the OS; resolves once its control port is bound. */
export async function spawnPoolPod(
  name: string,
  tlsDir: string,
  extraEnv: Record<string, string> = {},
): Promise<PoolProcess> {
  const child = spawn(
    process.execPath,
    [
      '--experimental-transform-types',
      '--no-warnings',
      '--import',
      join(adapterDir, 'ts-hooks.mjs'),
      join(adapterDir, 'pool', 'main.ts'),
    ],
    {
      env: {
        PATH: process.env.PATH ?? '',
        POD_NAME: name,
        CONTROL_ADDRESS: '127.0.0.1',
        CONTROL_PORT: '0',
        HEALTH_PORT: '0',
        CONTROL_TLS_DIR: tlsDir,
        SINK_RETRIES: '1',
        SHUTDOWN_TIMEOUT: '1s',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error(`pool pod ${name} did not start in 30 s: ${stderr}`)),
      30_000,
    );
    const onData = (d: Buffer) => {
      buffered += d.toString();
      for (const line of buffered.split('\n')) {
        const m = /"controlPort":(\d+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          child.stdout.off('data', onData);
          child.stdout.resume();
          resolve(Number(m[1]));
          return;
        }
      }
    };
    child.stdout.on('data', onData);
    child.on('exit', (code) => reject(new Error(`pool pod ${name} exited (${code}): ${stderr}`)));
  });
  return { name, child, target: `127.0.0.1:${port}`, exited };
}

/** SIGTERMs (or SIGKILLs) a pool pod and waits for it to exit. */
export async function stopPoolPod(p: PoolProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
  await p.exited;
}
