// The adapter as a real process (the TypeScript sources run by Node): start-up validation,
// probes and metrics, live steering, and a clean, quick SIGTERM even with a send in flight.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OP_SET_INTERVAL } from '../contract/commands.js';
import { DevSink } from './dev-sink.js';
import { Steering, issueCerts, loopbackAdapterEnv, type IssuedCerts } from './testkit.js';

const here = fileURLToPath(new URL('.', import.meta.url));

interface Proc {
  child: ChildProcess;
  stdout: string[];
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** Resolves with the first stdout JSON line matching `predicate`. */
  line(
    predicate: (l: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
}

function runAdapter(env: Record<string, string>): Proc {
  const child = spawn(
    process.execPath,
    [
      '--experimental-transform-types',
      '--no-warnings',
      '--import',
      join(here, 'ts-hooks.mjs'),
      join(here, 'main.ts'),
    ],
    { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stdout: string[] = [];
  const proc: Proc = {
    child,
    stdout,
    stderr: '',
    exited: new Promise((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
    ),
    line(predicate, timeoutMs = 15_000) {
      const parsed = () =>
        stdout.map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return {};
          }
        });
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`no matching log line; stdout:\n${stdout.join('\n')}\nstderr:\n${proc.stderr}`)),
          timeoutMs,
        );
        const check = () => {
          const hit = parsed().find(predicate);
          if (!hit) return;
          clearTimeout(timer);
          child.stdout.off('data', check);
          resolve(hit);
        };
        child.stdout.on('data', check);
        check();
      });
    },
  };
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    stdout.push(...lines.filter((l) => l !== ''));
  });
  child.stderr.on('data', (chunk: Buffer) => (proc.stderr += chunk.toString()));
  return proc;
}

describe('adapter process', () => {
  let dir: string;
  let certs: IssuedCerts;
  let sink: DevSink;
  let sinkUrl: URL;
  const running: Proc[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adapter-main-'));
    certs = await issueCerts(dir, 'demo', 'beat');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    sink = new DevSink();
    sinkUrl = await sink.start();
  });
  afterEach(async () => {
    for (const p of running.splice(0))
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await sink.close();
  });

  const env = (extra: Record<string, string> = {}) =>
    loopbackAdapterEnv(
      {
        sink: sinkUrl,
        namespace: 'demo',
        name: 'beat',
        pod: 'beat-7f9c',
        tlsDir: certs.adapterTlsDir,
        interval: '200ms',
      },
      extra,
    );
  const start = (e: Record<string, string>) => {
    const p = runAdapter(e);
    running.push(p);
    return p;
  };

  it.each([
    [{ K_SINK: '' }, /^samplesource-adapter: invalid adapter configuration: K_SINK: is required/],
    [{ SAMPLESOURCE_INTERVAL: '1 minute' }, /SAMPLESOURCE_INTERVAL: invalid duration "1 minute"/],
    [{ CONTROL_PORT: 'https' }, /CONTROL_PORT: .*\(got "https"\)/],
  ])('refuses to start with a bad environment %j: exit 1 and one clear line', async (bad, message) => {
    const p = start(env(bad));
    const { code } = await p.exited;
    expect(code).toBe(1);
    expect(p.stderr.trim().split('\n')).toHaveLength(1);
    expect(p.stderr).toMatch(message);
    expect(sink.requests).toHaveLength(0);
  });

  it('fails start-up clearly when the certificates are missing', async () => {
    const p = start(env({ CONTROL_TLS_DIR: join(dir, 'nowhere') }));
    const { code } = await p.exited;
    expect(code).toBe(1);
    expect(p.stdout.join('\n')).toMatch(/adapter failed to start: .*(ENOENT|no such file)/);
  });

  it('serves probes and metrics, logs one line per heartbeat, is steered live, and exits 0 on SIGTERM', async () => {
    const p = start(env());
    const started = await p.line((l) => typeof l.healthPort === 'number');
    expect(started.msg).toMatch(/adapter demo\/beat started \(every 200ms, generation 0\)/);
    const health = `http://127.0.0.1:${String(started.healthPort)}`;
    expect((await fetch(`${health}/healthz`)).status).toBe(200);
    expect((await fetch(`${health}/readyz`)).status).toBe(200);
    await sink.waitForAccepted(2);
    const beat = await p.line((l) => typeof l.msg === 'string' && l.msg.startsWith('heartbeat #2 sent'));
    expect(beat).toMatchObject({
      level: 'info',
      pod: 'beat-7f9c',
      samplesource: 'demo/beat',
      sequence: 2,
      interval: '200ms',
      status: 202,
    });
    expect(beat.msg).toMatch(/^heartbeat #2 sent \(every 200ms\) → 202 in \d+ms$/);

    const steer = new Steering({
      target: `127.0.0.1:${String(started.controlPort)}`,
      tls: certs.operator,
      adapterIdentity: certs.adapterIdentity,
    }).start();
    const result = await steer.run(OP_SET_INTERVAL, { generation: 2, interval: '300ms' });
    expect(result).toMatchObject({ succeeded: true });
    const applied = await p.line(
      (l) => typeof l.msg === 'string' && l.msg.startsWith('command SetInterval applied'),
    );
    expect(applied.msg).toBe('command SetInterval applied (generation 2): every 300ms');

    const metrics = await (await fetch(`${health}/metrics`)).text();
    expect(metrics).toMatch(/^samplesource_adapter_events_sent_total [1-9]\d*$/m);
    expect(metrics).toMatch(/^samplesource_adapter_interval_seconds 0\.3$/m);
    expect(metrics).toMatch(/^samplesource_adapter_paused 0$/m);
    expect(metrics).toMatch(/^samplesource_adapter_send_duration_seconds_count\{result="success"\} [1-9]/m);
    expect(metrics).toMatch(/^samplesource_adapter_events_retried_total 0$/m);

    const stateChanges = steer.client;
    const disconnected = new Promise<void>((resolve) =>
      stateChanges.onStateChange((s) => s !== 'ready' && resolve()),
    );
    const sigterm = performance.now();
    p.child.kill('SIGTERM');
    const { code, at } = await p.exited;
    expect(code).toBe(0);
    expect(at - sigterm).toBeLessThan(3_000);
    await disconnected; // the stream was closed, not left dangling
    await steer.close();
    expect(p.stdout.join('\n')).toMatch(/SIGTERM received: stopping/);
    expect(p.stdout.join('\n')).toMatch(/adapter stopped: \d+ sent, \d+ dropped/);
  });

  it('on SIGTERM abandons a send to a hung sink within the shutdown deadline and still exits 0', async () => {
    sink.behaviour = () => 'hang';
    const p = start(env({ SHUTDOWN_TIMEOUT: '500ms', SINK_TIMEOUT: '30s', SAMPLESOURCE_INTERVAL: '10s' }));
    await sink.waitUntil((r) => r.length === 1, 'a request to hang', 15_000);
    const sigterm = performance.now();
    p.child.kill('SIGTERM');
    const { code, at } = await p.exited;
    expect(code).toBe(0);
    expect(at - sigterm).toBeGreaterThanOrEqual(450);
    expect(at - sigterm).toBeLessThan(3_000);
    expect(p.stdout.join('\n')).toMatch(
      /heartbeat #1 dropped after 1 attempt\(s\): abandoned: adapter shutting down/,
    );
  });
});
