// A stock gRPC client (grpc-js with its default TLS checks: no checkServerIdentity, no target name
// override) verifies an adapter by the DNS SAN of its certificate, as a client in another language
// would. Name resolution is a test resolver mapping the name to loopback (standing in for cluster DNS).
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { ControlServer } from './server.js';
import { CLIENT_ID, SERVER_ID } from './testing.js';
import { controlTestkit } from './testkit.js';
import { CONNECT_PATH, decodeEnvelope, encodeEnvelope } from './wire.js';

const NAME = 'demo.default.adapter.samplesource.knative.dev';

/** Resolves any name of the `loopback-test` scheme to 127.0.0.1 at the name's port. */
class LoopbackResolver {
  constructor(
    private readonly target: { path: string },
    private readonly listener: (...args: unknown[]) => boolean,
  ) {}
  private resolved = false;
  private destroyed = false;
  updateResolution(): void {
    // Answer once: grpc-js asks again after every failed connection, and an instant answer would spin.
    if (this.resolved || this.destroyed) return;
    this.resolved = true;
    const port = Number(this.target.path.split(':').at(-1));
    setImmediate(() => {
      if (!this.destroyed)
        this.listener({ ok: true, value: [{ addresses: [{ host: '127.0.0.1', port }] }] }, {}, null, '');
    });
  }
  destroy(): void {
    this.destroyed = true;
  }
  static getDefaultAuthority(target: { path: string }): string {
    return target.path;
  }
}
grpc.experimental.registerResolver(
  'loopback-test',
  LoopbackResolver as unknown as Parameters<typeof grpc.experimental.registerResolver>[1],
);

const { p, track, cleanups } = controlTestkit();

async function serverWithDnsSan(): Promise<number> {
  const leaf = await p.ca.issue({ commonName: 'adapter', uris: [SERVER_ID], dnsNames: [NAME] });
  const server = track(
    new ControlServer({
      address: '127.0.0.1:0',
      tls: { caPem: p.ca.certPem, certPem: leaf.certPem, keyPem: leaf.keyPem },
      identity: SERVER_ID,
      allowedClientIdentities: [CLIENT_ID],
    }),
  );
  server.handle('noop', z.unknown(), () => {});
  return server.start();
}

/** Dials `name` with stock credentials; resolves to the server's hello identity, or rejects with the call's status. */
function stockHello(name: string, port: number): Promise<string> {
  const creds = grpc.credentials.createSsl(
    Buffer.from(p.ca.certPem),
    Buffer.from(p.client.keyPem),
    Buffer.from(p.client.certPem),
  );
  const client = new grpc.Client(`loopback-test:///${name}:${port}`, creds);
  cleanups.push(() => client.close());
  const call = client.makeBidiStreamRequest<Buffer, Buffer>(
    CONNECT_PATH,
    (b) => b,
    (b) => b,
  );
  return new Promise((resolve, reject) => {
    call.on('data', (b: Buffer) => {
      const hello = decodeEnvelope(b).frames[0]?.hello;
      if (hello) resolve(hello.identity);
      call.cancel();
    });
    call.on('error', (e: grpc.ServiceError) => reject(e));
    call.write(
      encodeEnvelope({
        frames: [
          { hello: { protocolVersion: 1, capabilities: [], identity: CLIENT_ID, sessionId: 'stock' } },
        ],
      }),
    );
  });
}

it('lets a stock client verify the server by its DNS SAN, without overriding the target name', async () => {
  const port = await serverWithDnsSan();
  await expect(stockHello(NAME, port)).resolves.toBe(SERVER_ID);
});

it('fails that verification for a name the certificate does not carry (so the check above is real)', async () => {
  const port = await serverWithDnsSan();
  await expect(stockHello('other.default.adapter.samplesource.knative.dev', port)).rejects.toMatchObject({
    code: grpc.status.UNAVAILABLE,
  });
});
