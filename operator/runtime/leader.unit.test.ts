// Leader election's deadlines on virtual time (a ManualClock), against the recording fake client:
// the renew deadline and the lease expiry are exact to the millisecond here, where the cluster
// test (leader.cluster.test.ts, real apiserver, real time) can only bound them.
import { ManualClock } from '../../control/clock.js';
import { LeaderElector } from './leader.js';
import { RecordingFakeClient } from './testing.js';

const LEASE = '/apis/coordination.k8s.io/v1/namespaces/ops/leases/lead';
const TIMING = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
  releaseOnCancel: false,
};

function candidate(client: RecordingFakeClient, clock: ManualClock, identity: string) {
  const elector = new LeaderElector(client, { namespace: 'ops', name: 'lead', identity, clock, ...TIMING });
  const events: string[] = [];
  const stop = new AbortController();
  const done = elector.run(
    {
      onStartedLeading: () => events.push(`started@${clock.now()}`),
      onStoppedLeading: () => events.push(`stopped@${clock.now()}`),
    },
    stop.signal,
  );
  return { elector, events, stop: () => (stop.abort(), done) };
}

it('a leader whose renewals fail stops leading exactly when the renew deadline has passed', async () => {
  const clock = new ManualClock();
  const client = new RecordingFakeClient();
  const a = candidate(client, clock, 'a');
  await clock.advance(0);
  expect(a.elector.isLeader()).toBe(true);
  for (let i = 0; i < 20; i++)
    client.inject({ method: 'GET', path: LEASE, code: 500, reason: 'InternalError' });
  await clock.advance(9_999); // renewals at 2, 4, 6 and 8 s fail; the deadline is not reached
  expect(a.elector.isLeader()).toBe(true);
  await clock.advance(1); // the failed renewal at 10 s is 10 s after the last good one
  expect(a.elector.isLeader()).toBe(false);
  expect(a.events).toEqual(['started@0', 'stopped@10000']);
  await a.stop();
});

it('a second candidate takes over only once the lease has gone unrenewed for its duration', async () => {
  const clock = new ManualClock();
  const client = new RecordingFakeClient();
  const a = candidate(client, clock, 'a');
  await clock.advance(0);
  expect(a.elector.isLeader()).toBe(true);
  await a.stop(); // gone without releasing (releaseOnCancel false): the lease must expire
  await clock.advance(1_000);
  const b = candidate(client, clock, 'b');
  await clock.advance(0); // b first sees the lease at 1 s
  await clock.advance(14_999);
  expect(b.elector.isLeader()).toBe(false);
  // Retries come every 2 s with up to 120 % jitter: the first one at or after 16 s wins.
  await clock.advance(2_000 * 2.2);
  expect(b.elector.isLeader()).toBe(true);
  expect((client.get(LEASE) as { spec?: unknown } | undefined)?.spec).toMatchObject({
    holderIdentity: 'b',
    leaseTransitions: 1,
  });
  await b.stop();
});
