// The client's reconnect backoff and reconnectNow(), and the server's session TTL, on virtual time
// (a ManualClock) over real mTLS on loopback: a test waits exactly as long as the clock says, and a
// backoff of a minute costs no real minute. The real-time paths stay covered by chaos.unit.test.ts
// and protocol.unit.test.ts (reconnects on the system clock) and the smoke test at the end.
import { ManualClock } from './clock.js';
import { ControlClient, type ClientState, type ControlClientOptions } from './client.js';
import { CLIENT_ID, SERVER_ID, eventually, startTestServer, type TestPki } from './testing.js';
import { controlTestkit } from './testkit.js';

const { p, track } = controlTestkit();

/** A client (not started) that records its state changes. */
function recordingClient(
  pki: TestPki,
  port: number,
  options: Partial<ControlClientOptions>,
): { client: ControlClient; states: ClientState[]; dials: () => number } {
  const states: ClientState[] = [];
  const client = new ControlClient({
    target: `127.0.0.1:${port}`,
    tls: pki.clientTls,
    identity: CLIENT_ID,
    expectedServerIdentity: SERVER_ID,
    ...options,
  });
  client.onStateChange((s) => states.push(s));
  return { client, states, dials: () => states.filter((s) => s === 'connecting').length };
}

/** A loopback port nothing listens on (a server bound it and let it go). */
async function freePort(): Promise<number> {
  const { server, port } = await startTestServer(p);
  await server.close(0);
  return port;
}

/** Resolves once the client waits in its backoff (disconnected, its timer pending on the clock). */
async function inBackoff(client: ControlClient, clock: ManualClock, dialsSoFar: () => number, n: number) {
  await eventually(
    () => dialsSoFar() === n && client.state === 'disconnected' && clock.pending > 0,
    10_000,
    `attempt ${n} to fail and the client to wait in its backoff`,
  );
}

it('waits its backoff on the injected clock: not a virtual millisecond early, and grows it per failure', async () => {
  const clock = new ManualClock();
  const port = await freePort();
  const { client, dials } = recordingClient(p, port, {
    clock,
    backoff: { initialMs: 60_000, maxMs: 3_600_000, multiplier: 2, jitter: 0 },
  });
  track(client).start();
  await inBackoff(client, clock, dials, 1);
  await clock.advance(59_999);
  expect(dials()).toBe(1);
  await clock.advance(1);
  await inBackoff(client, clock, dials, 2);
  // Second step: 120 s.
  await clock.advance(119_999);
  expect(dials()).toBe(2);
  await clock.advance(1);
  await inBackoff(client, clock, dials, 3);
});

it('reconnectNow() dials at once out of an hour-long backoff, and the session comes back', async () => {
  const clock = new ManualClock();
  const port = await freePort();
  const { client, dials } = recordingClient(p, port, {
    clock,
    backoff: { initialMs: 3_600_000, maxMs: 3_600_000, jitter: 0 },
  });
  track(client).start();
  await inBackoff(client, clock, dials, 1);
  // The pod turned Ready: the server listens again on the same address.
  const { server } = await startTestServer(p, { address: `127.0.0.1:${port}`, clock });
  track(server);
  client.reconnectNow();
  await eventually(() => client.state === 'ready', 10_000, 'the session to be back without the clock moving');
  expect(clock.now()).toBe(0);
  expect(dials()).toBe(2);
});

it('reconnectNow() starts the backoff over, and during an attempt makes the next one follow at once', async () => {
  const clock = new ManualClock();
  const port = await freePort();
  const { client, dials } = recordingClient(p, port, {
    clock,
    backoff: { initialMs: 1_000, maxMs: 3_600_000, multiplier: 4, jitter: 0 },
  });
  track(client).start();
  // Called while the first attempt is still in flight: when it fails, the next attempt goes out with no backoff.
  expect(client.state).toBe('connecting');
  client.reconnectNow();
  await inBackoff(client, clock, dials, 2);
  expect(clock.now()).toBe(0);
  // The steps now: 1 s, then 4 s.
  await clock.advance(1_000);
  await inBackoff(client, clock, dials, 3);
  await clock.advance(3_999);
  expect(dials()).toBe(3);
  // Woken out of the 4 s step: the step after the next failure is the first one (1 s) again, not 16 s.
  client.reconnectNow();
  await inBackoff(client, clock, dials, 4);
  await clock.advance(999);
  expect(dials()).toBe(4);
  await clock.advance(1);
  await inBackoff(client, clock, dials, 5);
});

it('keeps a detached session for sessionTtlMs on the injected clock, then forgets it', async () => {
  const clock = new ManualClock();
  // Sweeps run every min(ttl, 30 s): a session detached at 0 with a 60 s TTL goes at the 90 s sweep.
  const { server, port } = await startTestServer(p, { clock, sessionTtlMs: 60_000 });
  track(server);
  const { client } = recordingClient(p, port, { sessionId: 'ttl-session' });
  client.start();
  await eventually(() => client.state === 'ready', 10_000, 'the session to open');
  expect(server.stats().map((s) => s.sessionId)).toEqual(['ttl-session']);
  await client.close();
  await eventually(() => server.stats()[0]?.attached === false, 10_000, 'the server to see the stream end');
  await clock.advance(60_000);
  expect(server.stats().map((s) => s.sessionId)).toEqual(['ttl-session']);
  await clock.advance(30_000);
  expect(server.stats()).toEqual([]);
});

it('smoke, system clock: a client whose server comes back reconnects by itself', async () => {
  const port = await freePort();
  const { client, dials } = recordingClient(p, port, { backoff: { initialMs: 20, maxMs: 100 } });
  track(client).start();
  await eventually(() => dials() >= 2, 10_000, 'a second attempt on real time');
  const { server } = await startTestServer(p, { address: `127.0.0.1:${port}` });
  track(server);
  await eventually(() => client.state === 'ready', 10_000, 'the session to come back');
});
