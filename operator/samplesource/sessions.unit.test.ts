// AdapterSessions against real control servers over loopback mTLS (a ControlServer with the
// adapter's identity stands in for each pod): sessions open only while leading, follow the pods,
// and each ApplyState's outcome becomes the pod's report. One table row per outcome.
import { pino } from 'pino';
import { z } from 'zod';
import {
  CommandRejectedError,
  ControlServer,
  createCertificateAuthority,
  type TlsPems,
} from '../../control/index.js';
import { closeTracker, eventually } from '../../control/testing.js';
import { ApplyStatePayloadSchema, OP_APPLY_STATE } from '../../contract/commands.js';
import { OPERATOR_IDENTITY, adapterIdentity, adapterServerName } from '../../contract/identities.js';
import {
  OP_SET_SINK_TOKEN,
  REASON_AUDIENCE_MISMATCH,
  SetSinkTokenPayloadSchema,
} from '../../contract/sink-token.js';
import { sinkKey } from './adapter-sink.js';
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

/** An adapter pod's control server (not started yet, closed after the test). */
function podServer(): ControlServer {
  return track(
    new ControlServer({
      address: '127.0.0.1:0',
      tls: adapterTls,
      identity: adapterIdentity(NS, NAME),
      allowedClientIdentities: [OPERATOR_IDENTITY],
      logger,
    }),
  );
}

/** An adapter pod's control server whose ApplyState handler does what `outcome` says. */
async function pod(
  outcome: (
    p: Apply,
    ctx: { notifySuccess(detail?: unknown): void; notifyFailure(r: string, m: string): void },
  ) => void,
) {
  const server = podServer();
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
      report: { generation: 3, state: 'succeeded', paused: false },
    },
    {
      name: 'applied, with the last sequence the adapter reported (a handover pause reads it)',
      outcome: (_p, ctx) =>
        ctx.notifySuccess({
          podName: POD.name,
          interval: '1s',
          intervalMs: 1_000,
          paused: false,
          generation: 3,
          eventsSent: 12,
          eventsDropped: 0,
          eventsRetried: 0,
          lastSendError: null,
          lastSequence: 12,
        }),
      report: { generation: 3, state: 'succeeded', paused: false, lastSequence: 12 },
    },
    {
      name: 'refused by the adapter',
      outcome: (_p, ctx) => ctx.notifyFailure('Superseded', 'generation 3 < 4'),
      report: {
        generation: 3,
        state: 'failed',
        paused: false,
        reason: 'Superseded',
        message: 'generation 3 < 4',
      },
    },
  ];
  it.each(rows)('$name', async ({ outcome, report }) => {
    const port = await pod(outcome);
    const changes: string[] = [];
    const sessions = leadingSessions(port, changes);
    sessions.sync(KEY, NS, NAME, [POD]);
    expect(sessions.size).toBe(1);
    sessions.send(KEY, POD.name, { generation: 3, interval: '1s', paused: false });
    expect(sessions.reports(KEY).get(POD.name)).toEqual({ generation: 3, state: 'pending', paused: false });
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

it('keeps the sink each ApplyState carried in the report, and sends the token again once an ApplyState moving to its audience was applied', async () => {
  const seen: string[] = [];
  let audience = 'aud-1';
  const server = podServer();
  // As the adapter does: a token for another audience than the sink's in force is refused.
  server.handleAsync(OP_APPLY_STATE, ApplyStatePayloadSchema, (p, ctx) => {
    seen.push(`apply ${p.sink?.audience ?? '-'}`);
    audience = p.sink?.audience ?? audience;
    ctx.notifySuccess();
  });
  server.handle(OP_SET_SINK_TOKEN, SetSinkTokenPayloadSchema, (p) => {
    const accepted = p.audience === audience;
    seen.push(`token ${p.audience} ${accepted ? 'stored' : 'refused'}`);
    if (!accepted) throw new CommandRejectedError(REASON_AUDIENCE_MISMATCH, 'other audience');
  });
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  server.onSessionOpen(() => opened());
  const port = await server.start();
  const sessions = leadingSessions(port, []);
  sessions.sync(KEY, NS, NAME, [POD]);
  await open;
  // The token for the new audience was minted before the reconcile sent the state moving there.
  const jws = ['{"alg":"RS256"}', '{"n":1}', 'sig'.repeat(20)].map((x) =>
    Buffer.from(x).toString('base64url'),
  );
  const grant = { audience: 'aud-2', token: jws.join('.'), expiresAt: new Date(Date.now() + 3_600_000) };
  await eventually(
    () => {
      sessions.setSinkToken(KEY, grant);
      return seen.length > 0;
    },
    5_000,
    'the first token delivery',
  );
  const sink = { uri: 'https://moved.example/', audience: 'aud-2' };
  sessions.send(KEY, POD.name, { generation: 1, interval: '1s', paused: false, sink });
  await eventually(() => seen.includes('token aud-2 stored'), 10_000, 'the token stored');
  expect(seen.slice(-2)).toEqual(['apply aud-2', 'token aud-2 stored']);
  await eventually(() => sessions.reports(KEY).get(POD.name)?.state === 'succeeded', 10_000, 'the result');
  expect(sessions.reports(KEY).get(POD.name)).toEqual({
    generation: 1,
    state: 'succeeded',
    paused: false,
    sinkKey: sinkKey(sink),
  });
});
