// AdapterSessions against real control servers over loopback mTLS (a ControlServer with the
// adapter's identity stands in for each pod): sessions open only while leading, follow the pods,
// and each ApplyState's outcome becomes the pod's report. One table row per outcome.
import { pino } from 'pino';
import { z } from 'zod';
import { ControlServer, createCertificateAuthority, type TlsPems } from '../../control/index.js';
import { closeTracker, eventually } from '../../control/testing.js';
import { ApplyStatePayloadSchema, OP_APPLY_STATE } from '../../contract/commands.js';
import { OPERATOR_IDENTITY, adapterIdentity, adapterServerName } from '../../contract/identities.js';
import { AdapterSessions } from './sessions.js';

const NS = 'demo';
const NAME = 'beat';
const KEY = `${NS}/${NAME}`;
const logger = pino({ level: 'silent' });
const { track, closeAll } = closeTracker();
afterEach(closeAll);

let operatorTls: TlsPems;
let adapterTls: TlsPems;
beforeAll(async () => {
  const ca = await createCertificateAuthority({ commonName: 'sessions-test-ca' });
  const op = await ca.issue({ commonName: 'operator', uris: [OPERATOR_IDENTITY] });
  const ad = await ca.issue({
    commonName: 'adapter',
    uris: [adapterIdentity(NS, NAME)],
    dnsNames: [adapterServerName(NS, NAME)],
    ipAddresses: ['127.0.0.1'],
  });
  operatorTls = { caPem: ca.certPem, certPem: op.certPem, keyPem: op.keyPem };
  adapterTls = { caPem: ca.certPem, certPem: ad.certPem, keyPem: ad.keyPem };
});

type Apply = z.output<typeof ApplyStatePayloadSchema>;

/** An adapter pod's control server whose ApplyState handler does what `outcome` says. */
async function pod(
  outcome: (p: Apply, ctx: { notifySuccess(): void; notifyFailure(r: string, m: string): void }) => void,
) {
  const server = track(
    new ControlServer({
      address: '127.0.0.1:0',
      tls: adapterTls,
      identity: adapterIdentity(NS, NAME),
      allowedClientIdentities: [OPERATOR_IDENTITY],
      logger,
    }),
  );
  server.handleAsync(OP_APPLY_STATE, ApplyStatePayloadSchema, (p, ctx) => outcome(p, ctx));
  return server.start();
}

/** Sessions in a leadership term that ends after the test. */
function leadingSessions(port: number, changes: string[]) {
  const sessions = new AdapterSessions({
    tls: () => operatorTls,
    identity: OPERATOR_IDENTITY,
    controlPort: port,
    onChange: (key) => changes.push(key),
    logger,
  });
  const term = new AbortController();
  const running = sessions.run(term.signal);
  track({ close: () => (term.abort(), running) });
  return sessions;
}

const POD = { name: 'beat-0', uid: 'uid-0', ip: '127.0.0.1' };

describe('the outcome of an ApplyState becomes the pod report', () => {
  const rows: Array<{ name: string; outcome: Parameters<typeof pod>[0]; report: object }> = [
    {
      name: 'applied',
      outcome: (_p, ctx) => ctx.notifySuccess(),
      report: { generation: 3, state: 'succeeded' },
    },
    {
      name: 'refused by the adapter',
      outcome: (_p, ctx) => ctx.notifyFailure('Superseded', 'generation 3 < 4'),
      report: { generation: 3, state: 'failed', reason: 'Superseded', message: 'generation 3 < 4' },
    },
  ];
  it.each(rows)('$name', async ({ outcome, report }) => {
    const port = await pod(outcome);
    const changes: string[] = [];
    const sessions = leadingSessions(port, changes);
    sessions.sync(KEY, NS, NAME, [POD]);
    expect(sessions.size).toBe(1);
    sessions.send(KEY, POD.name, { generation: 3, interval: '1s', paused: false });
    expect(sessions.reports(KEY).get(POD.name)).toEqual({ generation: 3, state: 'pending' });
    await eventually(() => sessions.reports(KEY).get(POD.name)?.state !== 'pending', 10_000, 'the result');
    expect(sessions.reports(KEY).get(POD.name)).toEqual(report);
    expect(changes).toContain(KEY);
  });
});

it('opens no session before a leadership term, follows the pods during one, and closes all when it ends', async () => {
  const port = await pod((_p, ctx) => ctx.notifySuccess());
  const sessions = new AdapterSessions({
    tls: () => operatorTls,
    identity: OPERATOR_IDENTITY,
    controlPort: port,
    onChange: () => {},
    logger,
  });
  sessions.sync(KEY, NS, NAME, [POD]);
  expect(sessions.size).toBe(0);
  const term = new AbortController();
  const running = sessions.run(term.signal);
  sessions.sync(KEY, NS, NAME, [POD, { ...POD, name: 'beat-1', uid: 'uid-1' }]);
  expect(sessions.size).toBe(2);
  sessions.sync(KEY, NS, NAME, [POD]);
  expect(sessions.size).toBe(1);
  term.abort();
  await running;
  expect(sessions.size).toBe(0);
  sessions.sync(KEY, NS, NAME, [POD]);
  expect(sessions.size).toBe(0);
});
