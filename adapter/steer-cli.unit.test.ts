// The hand-steering CLI, as a real process against a real adapter over mTLS.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { startAdapter, type RunningAdapter } from './adapter.js';
import { loadConfig } from './config.js';
import { DevSink } from './dev-sink.js';
import { loopbackAdapterEnv } from './testkit.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const exec = promisify(execFile);

async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  const argv = [
    '--experimental-transform-types',
    '--no-warnings',
    '--import',
    join(here, 'ts-hooks.mjs'),
    join(here, 'steer-cli.ts'),
    ...args,
  ];
  try {
    const { stdout } = await exec(process.execPath, argv, { timeout: 30_000 });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe('steer-cli', () => {
  let dir: string;
  let sink: DevSink;
  let adapter: RunningAdapter;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'steer-cli-'));
    const certs = await cli('certs', '--out', dir, '--namespace', 'demo', '--name', 'cli');
    expect(certs.out).toMatch(/identity spiffe:\/\/samplesource.knative.dev\/ns\/demo\/samplesource\/cli/);
    sink = new DevSink();
    const url = await sink.start();
    const config = loadConfig(
      loopbackAdapterEnv({
        sink: url,
        namespace: 'demo',
        name: 'cli',
        tlsDir: join(dir, 'adapter'),
        interval: '1s',
      }),
    );
    adapter = await startAdapter(config, pino({ level: 'silent' }), { defaultMetrics: false });
  });
  afterAll(async () => {
    await adapter.close();
    await sink.close();
    await rm(dir, { recursive: true, force: true });
  });

  const steer = (...args: string[]) =>
    cli(
      ...args,
      '--target',
      `127.0.0.1:${adapter.controlPort}`,
      '--tls-dir',
      join(dir, 'operator'),
      '--namespace',
      'demo',
      '--name',
      'cli',
    );

  it('steers the adapter and prints ack, result and rejection', async () => {
    const set = await steer('set-interval', '300ms');
    expect(set.code).toBe(0);
    expect(set.out).toMatch(/SetInterval \{"generation":1,"interval":"300ms"\}: acked/);
    expect(set.out).toMatch(/SetInterval: applied → cli-0: every 300ms, generation 1/);
    expect(adapter.store.snapshot()).toMatchObject({ intervalMs: 300, generation: 1 });

    const paused = await steer('pause');
    expect(paused.out).toMatch(/Pause: applied → cli-0: paused, generation 2/);

    const tooFast = await steer('set-interval', '50ms');
    expect(tooFast.code).toBe(1);
    expect(tooFast.out).toMatch(
      /SetInterval: rejected: InvalidArgument: .*interval "50ms" is below the minimum 100ms/,
    );

    const stale = await steer('resume', '--generation', '1');
    expect(stale.code).toBe(1);
    expect(stale.out).toMatch(/Resume: not applied: Superseded: generation 1 is older than generation 2/);
    expect(adapter.store.snapshot()).toMatchObject({ intervalMs: 300, paused: true, generation: 2 });

    const state = await steer('state');
    expect(state.out).toMatch(/^cli-0: paused, generation 2, sent \d+, dropped 0, retried 0$/m);
  });
});
