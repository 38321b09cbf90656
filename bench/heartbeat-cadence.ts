// Heartbeat cadence accuracy: a real adapter process sends to a real sink in this process; we
// measure how far the gaps between heartbeats stray from the interval, and how far the whole
// run drifts from n·interval. Prints figures; never part of the pass/fail tests.
//
//   node --experimental-transform-types --no-warnings --import ./adapter/ts-hooks.mjs bench/heartbeat-cadence.ts
//   … bench/heartbeat-cadence.ts --runs 100ms:300,1s:30
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseInterval } from '../contract/commands.js';
import { DevSink } from '../adapter/dev-sink.js';
import { issueCerts } from '../adapter/testkit.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { runs: { type: 'string', default: '100ms:300,1s:30' } } });

interface Stats {
  median: number;
  p99: number;
  mean: number;
  worst: number;
  drift: number;
}

function stats(times: number[], intervalMs: number): Stats {
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  const dev = gaps.map((g) => Math.abs(g - intervalMs)).sort((a, b) => a - b);
  const q = (p: number) => dev[Math.min(dev.length - 1, Math.ceil(p * dev.length) - 1)]!;
  return {
    median: q(0.5),
    p99: q(0.99),
    mean: dev.reduce((a, b) => a + b, 0) / dev.length,
    worst: dev.at(-1)!,
    drift: times.at(-1)! - times[0]! - (times.length - 1) * intervalMs,
  };
}

async function run(interval: string, ticks: number, tlsDir: string): Promise<void> {
  const intervalMs = parseInterval(interval);
  const sink = new DevSink();
  const url = await sink.start();
  const child = spawn(
    process.execPath,
    [
      '--experimental-transform-types',
      '--no-warnings',
      '--import',
      join(root, 'adapter/ts-hooks.mjs'),
      join(root, 'adapter/main.ts'),
    ],
    {
      env: {
        PATH: process.env.PATH ?? '',
        K_SINK: url.href,
        SAMPLESOURCE_NAME: 'bench',
        SAMPLESOURCE_NAMESPACE: 'bench',
        SAMPLESOURCE_INTERVAL: interval,
        CONTROL_ADDRESS: '127.0.0.1',
        CONTROL_PORT: '0',
        HEALTH_PORT: '0',
        CONTROL_TLS_DIR: tlsDir,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  // The first event comes at start-up (module loading and all); measure from the second on.
  await sink.waitForAccepted(ticks + 1, (ticks + 10) * intervalMs + 15_000);
  child.kill('SIGTERM');
  const code = await exited;
  await sink.close();
  const accepted = sink.accepted.slice(1, ticks + 1);
  const arrival = stats(
    accepted.map((r) => r.arrivedAt),
    intervalMs,
  );
  const stamped = stats(
    accepted.map((r) => Date.parse(r.event!.time!)),
    intervalMs,
  );
  const sequences = accepted.map((r) => (r.event!.data as { sequence: number }).sequence);
  const gaps = sequences.slice(1).filter((s, i) => s !== sequences[i]! + 1).length;
  const f = (n: number) => `${n.toFixed(2).padStart(7)} ms`;
  console.log(`\n${interval} × ${ticks} ticks (sequence gaps: ${gaps}, adapter exit code ${code})`);
  console.log(
    '                       median |dev|   p99 |dev|     mean |dev|    worst |dev|   cumulative drift',
  );
  for (const [name, s] of [
    ['arrival at the sink', arrival],
    ['event time attribute', stamped],
  ] as const) {
    console.log(
      `  ${name.padEnd(20)} ${f(s.median)}   ${f(s.p99)}   ${f(s.mean)}   ${f(s.worst)}   ${f(s.drift)}`,
    );
  }
}

const dir = await mkdtemp(join(tmpdir(), 'cadence-'));
try {
  const certs = await issueCerts(dir, 'bench', 'bench');
  console.log(
    `node ${process.version}, ${process.platform}/${process.arch}; |dev| = |gap between consecutive heartbeats − interval|`,
  );
  for (const spec of values.runs.split(',')) {
    const [interval = '100ms', ticks = '300'] = spec.split(':');
    await run(interval, Number(ticks), certs.adapterTlsDir);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
