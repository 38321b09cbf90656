// Parent side of bench/lib/adapter-host.ts: forks the host, hands it the CA, and asks it things.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createCertificateAuthority, type CertificateAuthority, type TlsPems } from '../../control/index.js';
import { OPERATOR_IDENTITY } from '../../contract/identities.js';
import type { HostConfig } from './adapter-host.js';

/** A running adapter host. */
export interface Host {
  child: ChildProcess;
  ca: CertificateAuthority;
  /** The operator's client certificate (OPERATOR_IDENTITY). */
  operatorTls: TlsPems;
  ready: { startupMs: number; proxyPorts: number[]; memory: NodeJS.MemoryUsage };
  ask<T>(type: string, extra?: Record<string, unknown>): Promise<T>;
  tell(type: string, extra?: Record<string, unknown>): void;
  stop(): Promise<void>;
}

/** Forks the host with `count` adapters and waits until every server listens. */
export async function startHost(options: Omit<HostConfig, 'caCertPem' | 'caKeyPem'>): Promise<Host> {
  const ca = await createCertificateAuthority({ commonName: 'bench-ca' });
  const op = await ca.issue({
    commonName: 'samplesource-operator',
    uris: [OPERATOR_IDENTITY],
    usages: ['client'],
  });
  const script = fileURLToPath(new URL('./adapter-host.js', import.meta.url));
  const child = fork(script, [], {
    execArgv: ['--expose-gc', '--max-old-space-size=2048'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<string, Array<(m: unknown) => void>>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<Host['ready']>((resolve, reject) => {
    child.on('message', (m: { type: string; message?: string }) => {
      if (m.type === 'ready') resolve(m as unknown as Host['ready']);
      else if (m.type === 'error') reject(new Error(`adapter host: ${m.message}`));
      const w = waiting.get(m.type)?.shift();
      w?.(m);
    });
    child.once('exit', (code) => reject(new Error(`adapter host exited with ${code}`)));
    child.send({ ...options, caCertPem: ca.certPem, caKeyPem: ca.keyPem } satisfies HostConfig);
  });
  return {
    child,
    ca,
    operatorTls: { caPem: ca.certPem, certPem: op.certPem, keyPem: op.keyPem },
    ready,
    ask: <T>(type: string, extra: Record<string, unknown> = {}) =>
      new Promise<T>((resolve) => {
        const list = waiting.get(type) ?? [];
        list.push((m) => resolve(m as T));
        waiting.set(type, list);
        child.send({ type, ...extra });
      }),
    tell: (type, extra = {}) => void child.send({ type, ...extra }),
    stop: async () => {
      if (child.exitCode === null) child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
