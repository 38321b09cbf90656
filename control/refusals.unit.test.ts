// Every refusal of docs/control-protocol.md, tried over real mTLS from a raw client, with the gRPC
// status it must get: the table a client author in another language codes against.
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { CLIENT_ID, callStatus, rawCall, rawCredentials, startTestServer } from './testing.js';
import { controlTestkit } from './testkit.js';
import { encodeEnvelope } from './wire.js';
import type { Frame } from './wire.js';

const OTHER_ID = 'spiffe://samplesource.test/other-operator';
let other: { caPem: string; certPem: string; keyPem: string };
const { p, cleanups, track } = controlTestkit();
beforeAll(async () => {
  const leaf = await p.ca.issue({ commonName: 'other', uris: [OTHER_ID] });
  other = { caPem: p.ca.certPem, ...leaf };
});

const hello = (sessionId: string, extra: Record<string, unknown> = {}): Frame => ({
  hello: { protocolVersion: 1, capabilities: [], identity: CLIENT_ID, sessionId, ...extra },
});
const command = (id: string): Frame => ({ command: { id, opcode: 'noop', payload: Buffer.from('{}') } });

async function server(overrides = {}): Promise<number> {
  const { server, port } = await startTestServer(p, {
    allowedClientIdentities: [CLIENT_ID, OTHER_ID],
    ...overrides,
  });
  track(server);
  server.handle('noop', z.unknown(), () => {});
  return port;
}

/** Opens a raw stream, writes `writes` (envelopes or raw bytes), and resolves to the status it ends with. */
function exchange(
  port: number,
  writes: Array<Frame[] | Buffer>,
  tls = p.clientTls,
): Promise<grpc.StatusObject> {
  const { call, client } = rawCall(port, rawCredentials(tls));
  cleanups.push(() => client.close());
  const status = callStatus(call);
  for (const w of writes) call.write(Buffer.isBuffer(w) ? w : encodeEnvelope({ frames: w }));
  return status;
}

const table: Array<[string, (port: number) => Promise<grpc.StatusObject>, grpc.status, RegExp]> = [
  [
    'wrong protocol version',
    (port) => exchange(port, [[hello('v', { protocolVersion: 999 })]]),
    grpc.status.FAILED_PRECONDITION,
    /protocol version mismatch: peer speaks 999, we speak 1/,
  ],
  [
    'missing capability',
    (port) => exchange(port, [[hello('c', { requiredCapabilities: ['teleport'] })]]),
    grpc.status.FAILED_PRECONDITION,
    /capability mismatch: peer requires capabilities we lack: teleport/,
  ],
  [
    'first frame not a hello',
    (port) => exchange(port, [[command('x')]]),
    grpc.status.INVALID_ARGUMENT,
    /the first frame must be a valid hello \(got a command frame\)/,
  ],
  [
    'empty session id',
    (port) => exchange(port, [[hello('')]]),
    grpc.status.INVALID_ARGUMENT,
    /the first frame must be a valid hello \(.*empty session id/s,
  ],
  [
    'command with an empty id',
    (port) => exchange(port, [[hello('e')], [command('')]]),
    grpc.status.INVALID_ARGUMENT,
    /malformed frame without a readable id \(no ack possible\)/,
  ],
  [
    'undecodable bytes',
    (port) => exchange(port, [Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])]),
    grpc.status.INVALID_ARGUMENT,
    /undecodable envelope/,
  ],
  [
    'undecodable bytes after the hello',
    (port) => exchange(port, [[hello('u')], Buffer.from([0x0a, 0x05, 0x01])]),
    grpc.status.INVALID_ARGUMENT,
    /undecodable envelope/,
  ],
  [
    'second hello',
    (port) => exchange(port, [[hello('h')], [hello('h')]]),
    grpc.status.INVALID_ARGUMENT,
    /a second hello on an open stream/,
  ],
  [
    'session id used by another identity',
    async (port) => {
      const { call, client } = rawCall(port, rawCredentials(p.clientTls));
      cleanups.push(() => client.close());
      call.on('data', () => {});
      call.on('error', () => {});
      call.write(encodeEnvelope({ frames: [hello('mine')] }));
      await new Promise((r) => setTimeout(r, 200));
      return exchange(port, [[hello('mine', { identity: OTHER_ID })]], other);
    },
    grpc.status.PERMISSION_DENIED,
    /session mine belongs to another identity/,
  ],
];

it.each(table)('refuses %s with the documented status', async (_name, run, code, details) => {
  const port = await server();
  const status = await run(port);
  expect(grpc.status[status.code]).toBe(grpc.status[code]);
  expect(status.details).toMatch(details);
});

it('refuses a stream with no hello in time: DEADLINE_EXCEEDED', async () => {
  const port = await server({ helloTimeoutMs: 200 });
  const status = await exchange(port, []);
  expect(grpc.status[status.code]).toBe('DEADLINE_EXCEEDED');
  expect(status.details).toMatch(/no hello received in time \(helloTimeoutMs=200\)/);
});

it('refuses a client identity that is not allowed: PERMISSION_DENIED', async () => {
  const port = await server({ allowedClientIdentities: [CLIENT_ID] });
  const status = await exchange(port, [[hello('o')]], other);
  expect(grpc.status[status.code]).toBe('PERMISSION_DENIED');
  expect(status.details).toMatch(
    /client identity \[spiffe:\/\/samplesource.test\/other-operator\] is not allowed/,
  );
});

it('refuses a new session when every slot is held by a live stream: RESOURCE_EXHAUSTED', async () => {
  const port = await server({ maxSessions: 1 });
  const { call, client } = rawCall(port, rawCredentials(p.clientTls));
  cleanups.push(() => client.close());
  call.on('data', () => {});
  call.on('error', () => {});
  call.write(encodeEnvelope({ frames: [hello('first')] }));
  await new Promise((r) => setTimeout(r, 200));
  const status = await exchange(port, [[hello('second')]]);
  expect(grpc.status[status.code]).toBe('RESOURCE_EXHAUSTED');
  expect(status.details).toMatch(/too many sessions \(maxSessions=1\)/);
});
