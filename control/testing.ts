// Test fixtures for the control protocol (used by control/*.unit.test.ts and handy for adapter/operator
// tests): certificates for a server and a client, log capture, and polling helpers. Not for production.
import * as grpc from '@grpc/grpc-js';
import { ControlServer } from './server.js';
import type { ControlServerOptions } from './server.js';
import { ControlClient } from './client.js';
import type { ControlClientOptions } from './client.js';
import { CONNECT_PATH } from './wire.js';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { createCertificateAuthority } from './pki.js';
import type { CertificateAuthority, KeyPairPem } from './pki.js';
import type { TlsPems } from './tls.js';

/** Identities used by the fixtures. */
export const SERVER_ID = 'spiffe://samplesource.test/ns/default/source/demo/adapter';
export const CLIENT_ID = 'spiffe://samplesource.test/operator';

/** A CA with a server and a client leaf. */
export interface TestPki {
  ca: CertificateAuthority;
  server: KeyPairPem;
  client: KeyPairPem;
  serverTls: TlsPems;
  clientTls: TlsPems;
}

/** Makes a CA and leaves for SERVER_ID and CLIENT_ID (about 30 ms). */
export async function makeTestPki(commonName = 'control-test-ca'): Promise<TestPki> {
  const ca = await createCertificateAuthority({ commonName });
  const server = await ca.issue({ commonName: 'adapter', uris: [SERVER_ID], ipAddresses: ['127.0.0.1'] });
  const client = await ca.issue({ commonName: 'operator', uris: [CLIENT_ID] });
  return {
    ca,
    server,
    client,
    serverTls: { caPem: ca.certPem, certPem: server.certPem, keyPem: server.keyPem },
    clientTls: { caPem: ca.certPem, certPem: client.certPem, keyPem: client.keyPem },
  };
}

/** Whatever a test opened, closed after it (newest first): `afterEach(closeAll)`, `track(server)`. */
export function closeTracker(): {
  cleanups: Array<() => Promise<void> | void>;
  track: <T extends { close(): Promise<void> | void }>(x: T) => T;
  closeAll: () => Promise<void>;
} {
  // Functions, not methods: tests destructure them (`const { track, closeAll } = closeTracker()`).
  const cleanups: Array<() => Promise<void> | void> = [];
  return {
    cleanups,
    track: (x) => {
      cleanups.push(() => x.close());
      return x;
    },
    closeAll: async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    },
  };
}

/** A pino logger that keeps its lines in memory (level debug), with a finder. */
export function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>>; text(): string } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'debug' },
    { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  return { logger, lines, text: () => lines.map((l) => JSON.stringify(l)).join('\n') };
}

/** Polls `check` until it returns truthy or the timeout (default 10 s) passes. */
export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts a ControlServer on 127.0.0.1 with the fixture certificates; resolves to it and its port. */
export async function startTestServer(
  p: TestPki,
  overrides: Partial<ControlServerOptions> = {},
): Promise<{ server: ControlServer; port: number }> {
  const server = new ControlServer({
    address: '127.0.0.1:0',
    tls: p.serverTls,
    identity: SERVER_ID,
    allowedClientIdentities: [CLIENT_ID],
    ...overrides,
  });
  return { server, port: await server.start() };
}

/** A started ControlClient for the fixture server, with quick reconnects. */
export function startTestClient(
  p: TestPki,
  port: number,
  overrides: Partial<ControlClientOptions> = {},
): ControlClient {
  return new ControlClient({
    target: `127.0.0.1:${port}`,
    tls: p.clientTls,
    identity: CLIENT_ID,
    expectedServerIdentity: SERVER_ID,
    backoff: { initialMs: 20, maxMs: 200 },
    ...overrides,
  }).start();
}

/** A raw gRPC bidi call to the Control method that writes and reads unvalidated bytes (for malformed-input tests). */
export function rawCall(
  port: number,
  creds: grpc.ChannelCredentials,
  options: Record<string, number> = {},
): { call: grpc.ClientDuplexStream<Buffer, Buffer>; client: grpc.Client } {
  const client = new grpc.Client(`127.0.0.1:${port}`, creds, options);
  const call = client.makeBidiStreamRequest<Buffer, Buffer>(
    CONNECT_PATH,
    (b) => b,
    (b) => b,
  );
  return { call, client };
}

/** Channel credentials from fixture PEMs, accepting any server identity (the raw tests target the server's checks). */
export function rawCredentials(p: {
  caPem: string | string[];
  certPem?: string;
  keyPem?: string;
}): grpc.ChannelCredentials {
  const ca = Buffer.from(Array.isArray(p.caPem) ? p.caPem.join('\n') : p.caPem);
  return grpc.credentials.createSsl(
    ca,
    p.keyPem ? Buffer.from(p.keyPem) : null,
    p.certPem ? Buffer.from(p.certPem) : null,
    { checkServerIdentity: () => undefined },
  );
}

/** Waits for a raw call to end; resolves to its status (code and details). */
export function callStatus(call: grpc.ClientDuplexStream<Buffer, Buffer>): Promise<grpc.StatusObject> {
  return new Promise((resolve) => {
    call.on('data', () => {});
    call.on('error', () => {});
    call.on('status', (s: grpc.StatusObject) => resolve(s));
  });
}

/**
 * Binds a hand-written gRPC server (a fake peer for a fault the real server cannot produce) on a
 * loopback port with the fixture server certificate, requiring client certificates like the real one.
 */
export function bindFakeServer(p: TestPki, fake: grpc.Server): Promise<number> {
  const creds = grpc.ServerCredentials.createSsl(
    Buffer.from(p.ca.certPem),
    [{ private_key: Buffer.from(p.server.keyPem), cert_chain: Buffer.from(p.server.certPem) }],
    true,
  );
  return new Promise<number>((res, rej) =>
    fake.bindAsync('127.0.0.1:0', creds, (e, n) => (e ? rej(e) : res(n))),
  );
}
