// Diagnostic for target 3: where the steering side's RSS per session goes. Opens N raw grpc-js
// bidi streams over mTLS to the adapter host (same servers as the fan-out), once with one
// ChannelCredentials (SSL context) per channel, as ControlClient builds them, and once with one
// shared between all channels, and reports heap and RSS per stream after GC for each.
//
//   npm run build && node --expose-gc dist/bench/fanout-memory.js [--sessions 500] --mode per-channel|shared
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { CONNECT_PATH } from '../control/wire.js';
import { startHost } from './lib/host-client.js';
import { hostAddress } from './lib/adapter-host.js';
import { fmt, printTable, settledMemory, sleep, writeResult } from './lib/report.js';
import { runBench } from './lib/run.js';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '500' },
    // Run each mode in its own process: memory freed by one mode is reused by the next and hides its RSS.
    mode: { type: 'string', default: 'per-channel' },
  },
});
const N = Number(values.sessions);
const OCTET = 81;

async function main(): Promise<void> {
  const host = await startHost({ count: N, octet: OCTET, port: 9443 });
  const t = host.operatorTls;
  const make = () =>
    grpc.credentials.createSsl(Buffer.from(String(t.caPem)), Buffer.from(t.keyPem), Buffer.from(t.certPem), {
      checkServerIdentity: () => undefined,
    });
  const rows: Array<Array<string | number>> = [];
  const out: Record<string, unknown> = {};
  const modes = {
    'per-channel': 'credentials per channel (as ControlClient)',
    shared: 'one shared credentials',
  } as const;
  const mode = modes[values.mode as keyof typeof modes];
  if (!mode) throw new Error('--mode per-channel | shared');
  {
    const shared = make();
    const before = await settledMemory();
    const open: Array<{ client: grpc.Client; call: grpc.ClientDuplexStream<Buffer, Buffer> }> = [];
    for (let i = 0; i < N; i++) {
      const client = new grpc.Client(
        `${hostAddress(OCTET, i)}:9443`,
        mode === 'one shared credentials' ? shared : make(),
        {
          'grpc.use_local_subchannel_pool': 1,
        },
      );
      const call = client.makeBidiStreamRequest<Buffer, Buffer>(
        CONNECT_PATH,
        (b) => b,
        (b) => b,
      );
      call.on('data', () => undefined);
      call.on('error', () => undefined);
      open.push({ client, call });
      if (i % 50 === 49) await sleep(100);
    }
    // Wait for every channel to be connected.
    for (let k = 0; k < 300; k++) {
      if (
        open.every((o) => o.client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY)
      )
        break;
      await sleep(100);
    }
    await sleep(1_000);
    const after = await settledMemory();
    const heap = (after.heapUsed - before.heapUsed) / N / 1024;
    const rss = (after.rss - before.rss) / N / 1024;
    rows.push([mode, fmt(heap), fmt(rss)]);
    out[mode] = { heapKB: heap, rssKB: rss };
    for (const o of open) {
      o.call.cancel();
      o.client.close();
    }
    await sleep(2_000);
  }
  console.log(`\nraw grpc-js streams over mTLS, ${N} channels, per stream (after GC):`);
  printTable(['mode', 'heap KB', 'RSS KB'], rows);
  console.log(`results: ${writeResult(`fanout-memory-${values.mode}`, { sessions: N, modes: out })}`);
  await host.stop();
}

runBench(main);
