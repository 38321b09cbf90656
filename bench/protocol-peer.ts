// Server side of bench/protocol.ts, run in its own process (child_process.fork): a ControlServer
// with a no-op command, and a raw grpc-js bidirectional echo with the same TLS, as the baseline.
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { ControlServer } from '../control/index.js';
import { RAW_ECHO_SERVICE } from './protocol-shared.js';
import type { BenchPki } from './protocol-shared.js';

// The benchmark asks for this process's CPU time around each measured slice.
process.on('message', (m) => {
  if (m === 'cpu') process.send!(process.cpuUsage());
});

process.once('message', (raw) => {
  void (async () => {
    const pki = raw as BenchPki;
    const control = new ControlServer({
      address: '127.0.0.1:0',
      tls: { caPem: pki.ca, certPem: pki.serverCert, keyPem: pki.serverKey },
      identity: pki.serverId,
      allowedClientIdentities: [pki.clientId],
      limits: { maxInFlight: 4096, maxOutbox: 4096 },
    });
    control.handle('echo', z.object({ d: z.string() }), () => {});
    const controlPort = await control.start();

    const echo = new grpc.Server();
    echo.addService(RAW_ECHO_SERVICE, {
      Echo: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        call.on('data', (m: Buffer) => call.write(m));
        call.on('end', () => call.end());
        call.on('error', () => {});
      },
    });
    const creds = grpc.ServerCredentials.createSsl(
      Buffer.from(pki.ca),
      [{ cert_chain: Buffer.from(pki.serverCert), private_key: Buffer.from(pki.serverKey) }],
      true,
    );
    const echoPort = await new Promise<number>((resolve, reject) =>
      echo.bindAsync('127.0.0.1:0', creds, (err, port) => (err ? reject(err) : resolve(port))),
    );
    process.send!({ controlPort, echoPort });
    process.once('disconnect', () => {
      echo.forceShutdown();
      void control.close(0).then(() => process.exit(0));
    });
  })();
});
