// A small control plane for running an adapter by hand: issue certificates, run a local sink,
// and steer the adapter over the real mTLS control stream. See docs/adapter.md.
//
//   node dist/adapter/steer-cli.js certs --out /tmp/ss --namespace demo --name beat
//   node dist/adapter/steer-cli.js sink --port 8081
//   node dist/adapter/steer-cli.js set-interval 2s --target 127.0.0.1:9443 --tls-dir /tmp/ss/operator
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { CommandRejectedError } from '../control/index.js';
import {
  OP_APPLY_STATE,
  OP_PAUSE,
  OP_RESUME,
  OP_SET_INTERVAL,
  parseInterval,
  type AdapterState,
} from '../contract/commands.js';
import { adapterIdentity } from '../contract/identities.js';
import { DevSink } from './dev-sink.js';
import { Steering, issueCerts } from './testkit.js';

const USAGE = `usage: steer-cli <command> [options]

commands:
  certs --out DIR [--namespace NS --name NAME]   CA + adapter certs (DIR/adapter) + operator certs (DIR/operator)
  sink [--host 127.0.0.1] [--port 8081]           a local CloudEvents sink printing one line per event
  state                                          print the adapter's state and exit
  watch                                          print every AdapterState notification until Ctrl-C
  set-interval DURATION                           e.g. set-interval 2s
  pause | resume
  apply --interval DURATION [--paused]           the full desired state (what the operator sends on connect)

steering options:
  --target HOST:PORT        adapter control address (default 127.0.0.1:9443)
  --tls-dir DIR             operator certificates: ca.crt, tls.crt, tls.key (default ./tls/operator)
  --namespace NS --name N   the SampleSource, for the adapter identity it must present (default demo/beat)
  --generation N            generation to send (default: the adapter's applied generation + 1)
  --verbose                 log the control client`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    out: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8081' },
    target: { type: 'string', default: '127.0.0.1:9443' },
    'tls-dir': { type: 'string', default: 'tls/operator' },
    namespace: { type: 'string', default: 'demo' },
    name: { type: 'string', default: 'beat' },
    generation: { type: 'string' },
    interval: { type: 'string' },
    paused: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const line = (s: AdapterState) =>
  `${s.podName}: ${s.paused ? 'paused' : `every ${s.interval}`}, generation ${s.generation}, sent ${s.eventsSent}, dropped ${s.eventsDropped}, retried ${s.eventsRetried}${s.lastSendError ? `, last error: ${s.lastSendError}` : ''}`;

function fail(message: string): never {
  console.error(`steer-cli: ${message}`);
  process.exit(2);
}

async function connect(): Promise<Steering> {
  const dir = values['tls-dir'];
  let tls;
  try {
    tls = {
      caPem: readFileSync(join(dir, 'ca.crt'), 'utf8'),
      certPem: readFileSync(join(dir, 'tls.crt'), 'utf8'),
      keyPem: readFileSync(join(dir, 'tls.key'), 'utf8'),
    };
  } catch (err) {
    fail(`cannot read operator certificates from ${dir}: ${(err as Error).message}`);
  }
  const steering = new Steering({
    target: values.target,
    tls,
    adapterIdentity: adapterIdentity(values.namespace, values.name),
    logger: pino({ level: values.verbose ? 'debug' : 'error' }),
  }).start();
  // The adapter reports its full state as soon as the stream opens: that proves the connection.
  await steering
    .waitForState(() => true, `the adapter's state from ${values.target}`, 10_000)
    .catch((err: Error) => fail(err.message));
  return steering;
}

async function steer(
  opcode: string,
  payload: (generation: number) => Record<string, unknown>,
): Promise<void> {
  const steering = await connect();
  const generation =
    values.generation !== undefined ? Number(values.generation) : Number(steering.state!.generation) + 1;
  const body = { generation, ...payload(generation) };
  const short = opcode.replace('samplesource.v1.', '');
  try {
    const id = await steering.send(opcode, body);
    console.log(`${short} ${JSON.stringify(body)}: acked (${id})`);
    await steering.waitFor(() => steering.results.some((r) => r.commandId === id), 'the async result');
    const result = steering.results.find((r) => r.commandId === id)!;
    if (result.succeeded) console.log(`${short}: applied → ${line(result.detail as AdapterState)}`);
    else console.log(`${short}: not applied: ${result.reason}: ${result.message}`);
    process.exitCode = result.succeeded ? 0 : 1;
  } catch (err) {
    if (err instanceof CommandRejectedError) console.log(`${short}: rejected: ${err.code}: ${err.message}`);
    else console.log(`${short}: ${(err as Error).message}`);
    process.exitCode = 1;
  }
  await steering.close();
}

async function main(): Promise<void> {
  const [command, arg] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  switch (command) {
    case 'certs': {
      if (!values.out) fail('certs needs --out DIR');
      const certs = await issueCerts(values.out, values.namespace, values.name);
      console.log(
        `adapter certificates (CONTROL_TLS_DIR): ${certs.adapterTlsDir}  identity ${certs.adapterIdentity}`,
      );
      console.log(`operator certificates (--tls-dir):      ${join(values.out, 'operator')}`);
      return;
    }
    case 'sink': {
      const sink = new DevSink();
      sink.onRequest = (r) => {
        const e = r.event;
        const at = new Date().toISOString();
        if (!e) console.log(`${at} not a CloudEvent: ${r.error}`);
        else console.log(`${at} ${e.type} ${e.source} id=${e.id} data=${JSON.stringify(e.data)}`);
      };
      const url = await sink.start(values.host, Number(values.port));
      console.log(`sink listening on ${url.href} (K_SINK=${url.href})`);
      process.on('SIGINT', () => void sink.close().then(() => process.exit(0)));
      return;
    }
    case 'state': {
      const steering = await connect();
      console.log(line(steering.state!));
      await steering.close();
      return;
    }
    case 'watch': {
      const steering = await connect();
      let shown = 0;
      const show = () => {
        for (; shown < steering.states.length; shown++)
          console.log(`${new Date().toISOString()} ${line(steering.states[shown]!)}`);
      };
      show();
      steering.client.onNotification(() => setImmediate(show));
      process.on('SIGINT', () => void steering.close().then(() => process.exit(0)));
      return;
    }
    case 'set-interval':
      if (!arg) fail('set-interval needs a duration, e.g. set-interval 2s');
      return steer(OP_SET_INTERVAL, () => ({ interval: arg }));
    case 'pause':
      return steer(OP_PAUSE, () => ({}));
    case 'resume':
      return steer(OP_RESUME, () => ({}));
    case 'apply': {
      const interval = values.interval ?? fail('apply needs --interval');
      try {
        parseInterval(interval);
      } catch (err) {
        // Let the adapter reject it too (that is what the demo shows), but say so here first.
        console.log(`note: ${(err as Error).message}; the adapter will reject it`);
      }
      return steer(OP_APPLY_STATE, () => ({ interval, paused: values.paused }));
    }
    default:
      fail(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
  }
}

await main();
