// Diagnostic for the soak's memory growth: one real ControlClient and ControlServer (mTLS on
// loopback); async commands sent one after another; heap after GC on both ends (same process) after
// every 250 commands. If per-session structures (outbox send queue, dedup windows) are what grows,
// the curve flattens or drops once they reach their bounds (1,024 consumed outbox entries, 4,096 ids).
//
//   npm run build && node --expose-gc dist/bench/session-memory.js [--commands 6000]
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { makeTestPki, startTestClient, startTestServer } from '../control/testing.js';
import { fmt, printTable, settledMemory, writeResult } from './lib/report.js';
import { runBench } from './lib/run.js';

const { values } = parseArgs({ options: { commands: { type: 'string', default: '6000' } } });
const N = Number(values.commands);

async function main(): Promise<void> {
  const pki = await makeTestPki();
  const { server, port } = await startTestServer(pki);
  server.handleAsync('bench.v1.Noop', z.object({ seq: z.number() }), (p, ctx) =>
    ctx.notifySuccess({ seq: p.seq }),
  );
  const client = startTestClient(pki, port);
  let results = 0;
  client.onResult(() => void results++);
  const base = await settledMemory();
  const rows: Array<[number, number]> = [];
  for (let i = 0; i < N; i++) {
    await client.sendAndWaitForAck('bench.v1.Noop', { seq: i }, { id: `cmd-${i}` });
    if ((i + 1) % 250 === 0) {
      while (results < i + 1) await new Promise((r) => setTimeout(r, 1));
      const m = await settledMemory();
      rows.push([i + 1, (m.heapUsed - base.heapUsed) / 1024]);
    }
  }
  console.log('\nheap growth after GC (client + server of one session), KB:');
  printTable(
    ['commands', 'heap KB', 'per command, bytes'],
    rows.map(([n, kb]) => [n, fmt(kb), fmt((kb * 1024) / n)]),
  );
  console.log(`results: ${writeResult('session-memory', { commands: N, heapGrowthKB: rows })}`);
  await client.close();
  await server.close(0);
}

runBench(main);
