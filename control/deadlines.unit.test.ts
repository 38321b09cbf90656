// The server's hello timeout on virtual time (a ManualClock), over real mTLS on loopback: a peer
// that opens a stream and says nothing is refused exactly when the clock says, not by a sleep.
import * as grpc from '@grpc/grpc-js';
import { ManualClock } from './clock.js';
import { callStatus, rawCall, rawCredentials, startTestServer } from './testing.js';
import { controlTestkit } from './testkit.js';

const { p, track, cleanups } = controlTestkit();

it('refuses a stream without a hello once helloTimeoutMs has passed on the injected clock', async () => {
  const clock = new ManualClock();
  // An hour: on the real clock this test would time out long before the refusal.
  const { server, port } = await startTestServer(p, { clock, helloTimeoutMs: 3_600_000 });
  track(server);
  // The server's own periodic timers (session sweep, TLS reload poll) run on the same clock.
  const own = clock.pending;
  const { call, client } = rawCall(port, rawCredentials(p.clientTls));
  cleanups.push(() => client.close());
  const status = callStatus(call);
  let ended = false;
  void status.then(() => (ended = true));
  // The stream is open (the server holds a pending hello timer) and nothing has ended it.
  for (let i = 0; i < 500 && clock.pending === own; i++) await new Promise((r) => setTimeout(r, 10));
  expect(clock.pending).toBeGreaterThan(own);
  await clock.advance(3_599_999);
  expect(ended).toBe(false);
  await clock.advance(1);
  await expect(status).resolves.toMatchObject({
    code: grpc.status.DEADLINE_EXCEEDED,
    details: expect.stringContaining('no hello received in time (helloTimeoutMs=3600000)') as unknown,
  });
});
