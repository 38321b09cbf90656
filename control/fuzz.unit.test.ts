// Property-based tests (fast-check): malformed and hostile input never crashes a peer or runs a
// handler with bad data; oversized messages are refused; the outbox keeps its invariants.
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { z } from 'zod';
import { CommandRejectedError, MessageTooLargeError } from './index.js';
import { Outbox } from './outbox.js';
import { CLIENT_ID, callStatus, rawCredentials, startTestClient, startTestServer } from './testing.js';
import { controlTestkit } from './testkit.js';
import { decodeEnvelope, encodeEnvelope } from './wire.js';
import type { Frame } from './wire.js';

const { p, cleanups, track } = controlTestkit();

const hello = (sessionId: string): Frame => ({
  hello: { protocolVersion: 1, capabilities: [], identity: CLIENT_ID, sessionId },
});

/** A server whose only handler counts runs, plus a healthy client to prove it still serves. */
async function victim(limits = {}) {
  const { server, port } = await startTestServer(p, { limits });
  track(server);
  const runs: unknown[] = [];
  server.handle('set', z.object({ n: z.number().int().min(0) }), (x) => void runs.push(x));
  const good = track(startTestClient(p, port, { limits }));
  const raw = new grpc.Client(`127.0.0.1:${port}`, rawCredentials(p.clientTls), {
    'grpc.max_send_message_length': 8 * 1024 * 1024,
  });
  cleanups.push(() => raw.close());
  const open = () =>
    raw.makeBidiStreamRequest<Buffer, Buffer>(
      '/samplesource.control.v1.Control/Connect',
      (b) => b,
      (b) => b,
    );
  return { server, port, runs, good, open };
}

it('survives arbitrary bytes as messages, before and after the hello', async () => {
  const { runs, good, open } = await victim();
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), fc.boolean(), async (bytes, afterHello) => {
      const call = open();
      const status = callStatus(call);
      if (afterHello) call.write(encodeEnvelope({ frames: [hello(`fuzz-${Math.random()}`)] }));
      call.write(Buffer.from(bytes));
      call.end();
      const s = await status;
      // Either refused/failed cleanly or ended normally; never a crash, never a hang.
      expect(typeof s.code).toBe('number');
    }),
    { numRuns: 40 },
  );
  await good.sendAndWaitForAck('set', { n: 1 });
  expect(runs).toEqual([{ n: 1 }]);
});

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({
    command: fc.record({
      id: fc.string({ maxLength: 300 }),
      opcode: fc.oneof(fc.constant('set'), fc.string({ maxLength: 20 })),
      payload: fc.oneof(
        fc.json().map((j) => Buffer.from(j)),
        fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)),
        fc.integer().map((n) => Buffer.from(JSON.stringify({ n }))),
      ),
    }),
  }),
  fc.record({ ack: fc.record({ id: fc.string({ maxLength: 10 }) }) }),
  fc.record({ hello: fc.record({ protocolVersion: fc.nat(), sessionId: fc.string({ maxLength: 10 }) }) }),
  fc.record({
    result: fc.record({
      id: fc.string({ maxLength: 10 }),
      commandId: fc.string({ maxLength: 10 }),
      succeeded: fc.boolean(),
    }),
  }),
  fc.constant({}),
);

it('answers every well-identified command in a stream of random frames, and runs handlers only on valid payloads', async () => {
  const { runs, good, open } = await victim();
  await fc.assert(
    fc.asyncProperty(fc.array(frameArb, { maxLength: 20 }), async (frames) => {
      runs.length = 0;
      const call = open();
      const acked = new Map<string, string>();
      call.on('data', (b: Buffer) => {
        for (const f of decodeEnvelope(b).frames) if (f.ack) acked.set(f.ack.id, f.ack.error?.code ?? 'OK');
      });
      const status = callStatus(call);
      call.write(encodeEnvelope({ frames: [hello(`prop-${Math.random()}`), ...frames] }));
      // A second hello, or a command or result without an id (nobody could ack it), ends the stream with
      // INVALID_ARGUMENT (docs/control-protocol.md, refusals): every command before it is answered.
      const refusing = frames.findIndex(
        (f) => f.hello || (f.command && !f.command.id) || (f.result && !f.result.id),
      );
      const answered = refusing < 0 ? frames : frames.slice(0, refusing);
      const ids = new Set(
        answered.flatMap((f) => (f.command?.id && f.command.id.length <= 256 ? [f.command.id] : [])),
      );
      const until = Date.now() + 3000;
      while ([...ids].some((id) => !acked.has(id)) && Date.now() < until)
        await new Promise((r) => setTimeout(r, 5));
      call.end();
      const ended = await status;
      for (const id of ids) expect(acked.has(id)).toBe(true);
      if (refusing >= 0) expect(ended.code).toBe(grpc.status.INVALID_ARGUMENT);
      // Every handler run got a payload that satisfied the schema.
      for (const r of runs) expect(z.object({ n: z.number().int().min(0) }).safeParse(r).success).toBe(true);
    }),
    { numRuns: 40 },
  );
  await good.sendAndWaitForAck('set', { n: 2 });
});

it('accepts exactly the payloads that satisfy the schema', async () => {
  const { runs, good } = await victim();
  await fc.assert(
    fc.asyncProperty(fc.jsonValue(), async (value) => {
      runs.length = 0;
      const valid = z.object({ n: z.number().int().min(0) }).safeParse(value).success;
      const outcome = await good.sendAndWaitForAck('set', value).then(
        () => 'ok',
        (e: unknown) => (e instanceof CommandRejectedError ? e.code : String(e)),
      );
      expect(outcome).toBe(valid ? 'ok' : 'InvalidArgument');
      expect(runs.length).toBe(valid ? 1 : 0);
    }),
    { numRuns: 100 },
  );
});

it('refuses an oversized message from a peer and keeps serving others', async () => {
  const { good, open, runs } = await victim({ maxMessageBytes: 64 * 1024 });
  const call = open();
  const status = callStatus(call);
  call.write(encodeEnvelope({ frames: [hello('big')] }));
  call.write(
    encodeEnvelope({
      frames: [{ command: { id: 'huge', opcode: 'set', payload: Buffer.alloc(200 * 1024, 0x20) } }],
    }),
  );
  const s = await status;
  expect(s.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  await good.sendAndWaitForAck('set', { n: 3 });
  expect(runs).toEqual([{ n: 3 }]);
  await expect(good.sendAndWaitForAck('set', { pad: 'x'.repeat(100 * 1024) })).rejects.toBeInstanceOf(
    MessageTooLargeError,
  );
});

it('refuses to publish a notification larger than the frame limit', async () => {
  const { server } = await startTestServer(p, { limits: { maxMessageBytes: 16 * 1024 } });
  track(server);
  expect(() => server.publish('big', 'x'.repeat(20 * 1024))).toThrow(MessageTooLargeError);
});

it('keeps the outbox invariants under any sequence of sends, acks and reconnects', () => {
  type Op = { t: 'add' } | { t: 'ack'; k: number } | { t: 'take' } | { t: 'rewind' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.constant<Op>({ t: 'add' }),
    fc.nat(50).map<Op>((k) => ({ t: 'ack', k })),
    fc.constant<Op>({ t: 'take' }),
    fc.constant<Op>({ t: 'rewind' }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), fc.integer({ min: 1, max: 8 }), (ops, maxInFlight) => {
      const box = new Outbox(16, maxInFlight);
      let next = 0;
      const unacked: string[] = [];
      let written: string[] = [];
      for (const o of ops) {
        if (o.t === 'add' && !box.full) {
          const id = `m${next++}`;
          box.add(id, {}, 1);
          unacked.push(id);
        } else if (o.t === 'ack' && unacked.length > 0) {
          const id = unacked.splice(o.k % unacked.length, 1)[0]!;
          box.remove(id);
          written = written.filter((w) => w !== id);
        } else if (o.t === 'take') {
          const e = box.takeNext();
          if (e) written.push(e.id);
        } else if (o.t === 'rewind') {
          box.rewind();
          written = [];
        }
        expect(box.size).toBe(unacked.length);
        expect(box.size).toBeLessThanOrEqual(16);
        expect(box.inFlight).toBe(written.length);
        expect(box.inFlight).toBeLessThanOrEqual(maxInFlight);
        // Whatever is written on the current stream is an in-order prefix of the unacked messages.
        expect(written).toEqual(unacked.slice(0, written.length));
      }
    }),
    { numRuns: 300 },
  );
});
