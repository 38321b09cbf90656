// Mutual TLS over real loopback sockets: every refusal (plaintext, no certificate, foreign CA,
// expired, wrong identity, both directions) with its log line, certificate reload without dropping
// live streams, and a CA rollover through a trust bundle.
import { mkdtempSync, writeFileSync, rmSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { createCertificateAuthority } from './pki.js';
import type { TlsPems } from './index.js';
import {
  CLIENT_ID,
  SERVER_ID,
  callStatus,
  captureLogger,
  eventually,
  makeTestPki,
  rawCall,
  rawCredentials,
  startTestClient,
  startTestServer,
} from './testing.js';
import { controlTestkit } from './testkit.js';
import { encodeEnvelope } from './wire.js';

const { p, cleanups, track } = controlTestkit();

const HELLO = encodeEnvelope({
  frames: [
    { hello: { protocolVersion: 1, capabilities: [], identity: CLIENT_ID, sessionId: 'raw-session' } },
  ],
});

async function serverWithLog() {
  const log = captureLogger();
  const { server, port } = await startTestServer(p, { logger: log.logger });
  track(server);
  let runs = 0;
  server.handle('noop', z.unknown(), () => void runs++);
  return { server, port, log, runs: () => runs };
}

/** Dials with raw credentials, sends a hello, and returns the call's final status. */
async function rawAttempt(port: number, creds: grpc.ChannelCredentials): Promise<grpc.StatusObject> {
  const { call, client } = rawCall(port, creds);
  cleanups.push(() => client.close());
  const status = callStatus(call);
  call.write(HELLO);
  return status;
}

describe('the server refuses', () => {
  it('a plaintext client', async () => {
    const { port, log } = await serverWithLog();
    const s = await rawAttempt(port, grpc.credentials.createInsecure());
    expect(s.code).toBe(grpc.status.UNAVAILABLE);
    await eventually(() => /refused TLS connection/.test(log.text()), 5000, 'log line');
    expect(log.text()).toMatch(/refused TLS connection: not a TLS client \(plaintext\?\)/);
  });

  it('a client without a certificate', async () => {
    const { port, log } = await serverWithLog();
    const s = await rawAttempt(port, rawCredentials({ caPem: p.ca.certPem }));
    expect(s.code).not.toBe(grpc.status.OK);
    await eventually(() => /refused TLS connection/.test(log.text()), 5000, 'log line');
    expect(log.text()).toMatch(/refused TLS connection: client presented no certificate/);
  });

  it('a client certificate from another CA', async () => {
    const { port, log } = await serverWithLog();
    const other = await makeTestPki('another-ca');
    const s = await rawAttempt(
      port,
      rawCredentials({ caPem: p.ca.certPem, certPem: other.client.certPem, keyPem: other.client.keyPem }),
    );
    expect(s.code).not.toBe(grpc.status.OK);
    await eventually(() => /refused TLS connection/.test(log.text()), 5000, 'log line');
    expect(log.text()).toMatch(/refused TLS connection: client certificate not issued by a trusted CA/);
  });

  it('an expired client certificate', async () => {
    const { port, log } = await serverWithLog();
    const expired = await p.ca.issue({
      commonName: 'old-operator',
      uris: [CLIENT_ID],
      notBefore: new Date(Date.now() - 48 * 3_600_000),
      validityHours: 1,
    });
    const s = await rawAttempt(port, rawCredentials({ caPem: p.ca.certPem, ...expired }));
    expect(s.code).not.toBe(grpc.status.OK);
    await eventually(() => /refused TLS connection/.test(log.text()), 5000, 'log line');
    expect(log.text()).toMatch(/refused TLS connection: client certificate expired/);
  });

  it('a valid certificate with an identity that is not allowed, and never runs its commands', async () => {
    const { port, log, runs } = await serverWithLog();
    const intruder = await p.ca.issue({
      commonName: 'intruder',
      uris: ['spiffe://samplesource.test/intruder'],
    });
    const client = track(startTestClient(p, port, { tls: { caPem: p.ca.certPem, ...intruder } }));
    const sent = client.sendAndWaitForAck('noop', {}, { timeoutMs: 600 }).catch((e: unknown) => e);
    await eventually(
      () => /PERMISSION_DENIED/.test(client.lastConnectionError),
      5000,
      'refusal at the client',
    );
    expect(client.lastConnectionError).toMatch(
      /client identity \[spiffe:\/\/samplesource.test\/intruder\] is not allowed/,
    );
    expect(log.text()).toMatch(
      /refused stream: client identity \[spiffe:\/\/samplesource.test\/intruder\] is not allowed/,
    );
    expect(await sent).toMatchObject({ code: 'DeadlineExceeded' });
    expect(runs()).toBe(0);
  });
});

describe('the client refuses', () => {
  async function clientAgainst(serverTls: TlsPems) {
    const { server, port } = await startTestServer(p, { tls: serverTls });
    track(server);
    let runs = 0;
    server.handle('noop', z.unknown(), () => void runs++);
    const log = captureLogger();
    const client = track(startTestClient(p, port, { logger: log.logger }));
    void client.sendAndWaitForAck('noop', {}, { timeoutMs: 0 }).catch(() => {});
    return { client, log, runs: () => runs };
  }

  it('a server with the wrong identity', async () => {
    const impostor = await p.ca.issue({
      commonName: 'impostor',
      uris: ['spiffe://samplesource.test/impostor'],
    });
    const { client, log, runs } = await clientAgainst({ caPem: p.ca.certPem, ...impostor });
    await eventually(() => /refused server/.test(log.text()), 5000, 'log line');
    expect(log.text()).toMatch(/refused server: certificate lacks the expected identity/);
    expect(log.text()).toContain('spiffe://samplesource.test/impostor');
    expect(client.state).not.toBe('ready');
    expect(runs()).toBe(0);
  });

  it('a server certificate from another CA', async () => {
    const other = await makeTestPki('rogue-ca');
    const { client, runs } = await clientAgainst({ caPem: p.ca.certPem, ...other.server });
    await eventually(() => client.lastConnectionError !== '', 5000, 'a connection error');
    await eventually(
      () => /certificate|verify|self.signed|issuer/i.test(client.lastConnectionError),
      5000,
      'TLS error',
    );
    expect(client.state).not.toBe('ready');
    expect(runs()).toBe(0);
  });

  it('an expired server certificate', async () => {
    const expired = await p.ca.issue({
      commonName: 'old-adapter',
      uris: [SERVER_ID],
      notBefore: new Date(Date.now() - 48 * 3_600_000),
      validityHours: 1,
    });
    const { client, runs } = await clientAgainst({ caPem: p.ca.certPem, ...expired });
    await eventually(() => /expired/i.test(client.lastConnectionError), 5000, 'expiry error');
    expect(client.state).not.toBe('ready');
    expect(runs()).toBe(0);
  });
});

function servedSerial(port: number, clientTls: TlsPems): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      ca: clientTls.caPem,
      cert: clientTls.certPem,
      key: clientTls.keyPem,
      ALPNProtocols: ['h2'],
      checkServerIdentity: () => undefined,
    });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

const serial = (pem: string) => new X509Certificate(pem).serialNumber;

describe('rotation', () => {
  it('reloads changed certificate files for new connections without dropping live streams', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'control-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const files = {
      caFile: join(dir, 'ca.crt'),
      certFile: join(dir, 'tls.crt'),
      keyFile: join(dir, 'tls.key'),
    };
    const write = (certPem: string, keyPem: string) => {
      // Write-then-rename, as kubelet does for Secret volumes, so a reader never sees half a file.
      for (const [path, text] of [
        [files.caFile, p.ca.certPem],
        [files.certFile, certPem],
        [files.keyFile, keyPem],
      ] as const) {
        writeFileSync(`${path}.tmp`, text);
        renameSync(`${path}.tmp`, path);
      }
    };
    write(p.server.certPem, p.server.keyPem);
    const log = captureLogger();
    const { server, port } = await startTestServer(p, { tls: files, logger: log.logger });
    track(server);
    let runs = 0;
    server.handle('noop', z.unknown(), () => void runs++);
    const states: string[] = [];
    const client = track(startTestClient(p, port));
    await client.sendAndWaitForAck('noop', {});
    client.onStateChange((s) => states.push(s));
    expect(await servedSerial(port, p.clientTls)).toBe(serial(p.server.certPem));

    const next = await p.ca.issue({ commonName: 'adapter-next', uris: [SERVER_ID] });
    write(next.certPem, next.keyPem);
    expect(await servedSerial(port, p.clientTls)).toBe(serial(next.certPem));
    await client.sendAndWaitForAck('noop', {});
    expect(states).toEqual([]); // the live stream never dropped
    expect(runs).toBe(2);
    expect(log.text()).toMatch(/TLS certificates reloaded/);

    // A half-written (broken) key keeps the previous certificate instead of breaking new connections.
    writeFileSync(files.keyFile, '-----BEGIN PRIVATE KEY-----\nnonsense\n');
    expect(await servedSerial(port, p.clientTls)).toBe(serial(next.certPem));
    expect(log.text()).toMatch(/TLS reload failed; keeping the previous certificate/);
    expect(log.text()).not.toMatch(/PRIVATE KEY/);
  });

  it('rolls the CA over with an overlap period (trust bundle of old and new CA)', async () => {
    const oldCa = p.ca;
    const newCa = await createCertificateAuthority({ commonName: 'control-ca-2' });
    const newServer = await newCa.issue({ commonName: 'adapter', uris: [SERVER_ID] });
    const newClient = await newCa.issue({ commonName: 'operator', uris: [CLIENT_ID] });
    let serverTls: TlsPems = p.serverTls;
    const { server, port } = await startTestServer(p, { tls: () => serverTls });
    track(server);
    server.handle('noop', z.unknown(), () => {});
    let oldClientTls: TlsPems = p.clientTls;
    const oldClient = track(startTestClient(p, port, { tls: () => oldClientTls }));
    await oldClient.sendAndWaitForAck('noop', {});

    // Overlap: everyone trusts both CAs; the server moves to a new-CA certificate.
    const bundle = [oldCa.certPem, newCa.certPem];
    serverTls = { caPem: bundle, ...newServer };
    oldClientTls = { ...p.clientTls, caPem: bundle };
    const newClient1 = track(startTestClient(p, port, { tls: { caPem: bundle, ...newClient } }));
    await newClient1.sendAndWaitForAck('noop', {});
    const oldClientAgain = track(startTestClient(p, port, { tls: oldClientTls }));
    await oldClientAgain.sendAndWaitForAck('noop', {});
    await oldClient.sendAndWaitForAck('noop', {}); // its stream from before the rollover is still up

    // Old CA retired: old-CA clients are refused on new connections, new ones still work.
    serverTls = { caPem: newCa.certPem, ...newServer };
    const log = captureLogger();
    const stale = track(startTestClient(p, port, { tls: oldClientTls, logger: log.logger }));
    await expect(stale.sendAndWaitForAck('noop', {}, { timeoutMs: 800 })).rejects.toMatchObject({
      code: 'DeadlineExceeded',
    });
    const newClient2 = track(startTestClient(p, port, { tls: { caPem: newCa.certPem, ...newClient } }));
    await newClient2.sendAndWaitForAck('noop', {});
  });
});
