// Helpers shared by the adapter's tests, the cadence benchmark and the steering CLI: certificates
// laid out the way the operator's Secret mounts them, and a control-plane client that records
// acks, async results and AdapterState notifications.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import {
  ControlClient,
  createCertificateAuthority,
  type CertificateAuthority,
  type CommandResult,
  type TlsPems,
} from '../control/index.js';
import { AdapterStateSchema, NOTIFICATION_ADAPTER_STATE, type AdapterState } from '../contract/commands.js';
import { OPERATOR_IDENTITY, adapterIdentity } from '../contract/identities.js';
import { DevSink } from './dev-sink.js';

/** Certificates for one adapter and one operator, from a fresh CA. */
export interface IssuedCerts {
  /** Directory holding the adapter's ca.crt, tls.crt and tls.key (CONTROL_TLS_DIR). */
  adapterTlsDir: string;
  /** The operator's PEMs (for a ControlClient). */
  operator: TlsPems;
  adapterIdentity: string;
  /** The CA, to issue more certificates (an intruder's, a rotated one). */
  ca: CertificateAuthority;
}

/**
 * Issues a CA, the adapter's certificate into `<dir>/adapter` (and the operator's into
 * `<dir>/operator`, same file names). `operatorUri` defaults to the operator identity.
 */
export async function issueCerts(
  dir: string,
  namespace: string,
  name: string,
  operatorUri = OPERATOR_IDENTITY,
): Promise<IssuedCerts> {
  const ca = await createCertificateAuthority({ commonName: 'samplesource-test-ca' });
  const identity = adapterIdentity(namespace, name);
  const adapter = await ca.issue({
    commonName: `${name}.${namespace}`,
    uris: [identity],
    usages: ['server'],
  });
  const operator = await ca.issue({
    commonName: 'samplesource-operator',
    uris: [operatorUri],
    usages: ['client'],
  });
  const write = async (sub: string, pair: { certPem: string; keyPem: string }) => {
    const d = join(dir, sub);
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'ca.crt'), ca.certPem);
    await writeFile(join(d, 'tls.crt'), pair.certPem);
    await writeFile(join(d, 'tls.key'), pair.keyPem, { mode: 0o600 });
    return d;
  };
  const adapterTlsDir = await write('adapter', adapter);
  await write('operator', operator);
  return {
    adapterTlsDir,
    operator: { caPem: ca.certPem, certPem: operator.certPem, keyPem: operator.keyPem },
    adapterIdentity: identity,
    ca,
  };
}

/** An HTTPS DevSink started on 127.0.0.1, serving a certificate `ca` issued for that address; and its URL. */
export async function startHttpsSink(ca: CertificateAuthority): Promise<{ sink: DevSink; url: URL }> {
  const sink = new DevSink(
    await ca.issue({ commonName: 'sink', ipAddresses: ['127.0.0.1'], usages: ['server'] }),
  );
  return { sink, url: await sink.start() };
}

/** A control-plane client that keeps what the adapter told it. */
export class Steering {
  readonly client: ControlClient;
  readonly results: CommandResult[] = [];
  readonly states: AdapterState[] = [];
  private readonly waiters = new Set<() => void>();

  /** A started Steering of the adapter on 127.0.0.1:`port`, as the operator of `certs`. */
  static of(port: number, certs: IssuedCerts, logger?: Logger): Steering {
    return new Steering({
      target: `127.0.0.1:${port}`,
      tls: certs.operator,
      adapterIdentity: certs.adapterIdentity,
      ...(logger ? { logger } : {}),
    }).start();
  }

  constructor(options: {
    target: string;
    tls: TlsPems;
    adapterIdentity: string;
    identity?: string;
    logger?: Logger;
  }) {
    this.client = new ControlClient({
      target: options.target,
      tls: options.tls,
      identity: options.identity ?? OPERATOR_IDENTITY,
      expectedServerIdentity: options.adapterIdentity,
      logger: options.logger ?? pino({ level: 'silent' }),
      backoff: { initialMs: 50, maxMs: 500 },
    });
    this.client.onResult((r) => {
      this.results.push(r);
      this.wake();
    });
    this.client.onNotification((n) => {
      if (n.type === NOTIFICATION_ADAPTER_STATE) {
        const parsed = AdapterStateSchema.safeParse(n.data);
        if (parsed.success) this.states.push(parsed.data);
      }
      // Waiters are re-checked on every notification, so other notification types (a pool's
      // PoolState, recorded by the test's own listener registered first) can be waited for too.
      queueMicrotask(() => this.wake());
    });
    this.client.onStateChange(() => this.wake());
  }

  /** The latest AdapterState received, if any. */
  get state(): AdapterState | undefined {
    return this.states.at(-1);
  }

  start(): this {
    this.client.start();
    return this;
  }

  /** Sends a command and waits for its ack (rejects with CommandRejectedError on an error ack). */
  async send(opcode: string, payload: unknown): Promise<string> {
    const ack = await this.client.sendAndWaitForAck(opcode, payload, { timeoutMs: 10_000 });
    return ack.commandId;
  }

  /** Sends a command and waits for its async result. */
  async run(opcode: string, payload: unknown, timeoutMs = 10_000): Promise<CommandResult> {
    const id = await this.send(opcode, payload);
    let found: CommandResult | undefined;
    await this.waitFor(
      () => (found = this.results.find((r) => r.commandId === id)) !== undefined,
      `result of ${opcode}`,
      timeoutMs,
    );
    return found!;
  }

  /** Waits until `predicate` holds, re-checked on every result, notification and state change. */
  waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs}ms waiting for ${what}`));
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  /** Waits for an AdapterState notification matching `predicate`. */
  waitForState(
    predicate: (s: AdapterState) => boolean,
    what = 'adapter state',
    timeoutMs = 10_000,
  ): Promise<AdapterState> {
    return this.waitFor(() => this.states.some(predicate), what, timeoutMs).then(() =>
      this.states.findLast(predicate)!,
    );
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** What a test adapter on loopback needs: its sink, who it is, its certificates, its cadence. */
export interface LoopbackAdapterEnv {
  sink: URL;
  namespace: string;
  name: string;
  /** CONTROL_TLS_DIR (the adapter's ca.crt, tls.crt, tls.key). */
  tlsDir: string;
  interval: string;
  /** POD_NAME; default `<name>-0`. */
  pod?: string;
}

/**
 * The environment of an adapter under test: control and health servers on 127.0.0.1 with
 * ephemeral ports, plus any further variables (`extra`) a test sets.
 */
export function loopbackAdapterEnv(
  env: LoopbackAdapterEnv,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    K_SINK: env.sink.href,
    SAMPLESOURCE_NAME: env.name,
    SAMPLESOURCE_NAMESPACE: env.namespace,
    POD_NAME: env.pod ?? `${env.name}-0`,
    SAMPLESOURCE_INTERVAL: env.interval,
    CONTROL_ADDRESS: '127.0.0.1',
    CONTROL_PORT: '0',
    HEALTH_PORT: '0',
    CONTROL_TLS_DIR: env.tlsDir,
    ...extra,
  };
}
