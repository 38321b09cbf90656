// Reconcile table for the side effects, Knative style: the objects before (API server and caches)
// and the sessions' reports in; the requests the reconcile makes, the status it leaves, the Events
// it records and the commands it sends out. The API server is a recording fake (see
// runtime/testing.ts); the certificate authority is the real one, loaded through that fake.
import type { V1Deployment, V1Pod, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { resourcePath, TerminalError, type Result } from '../runtime/index.js';
import { RecordingFakeClient, type InjectedFault } from '../runtime/testing.js';
import type { SessionsPort } from './reconciler.js';
import { SAMPLESOURCE_RESOURCE } from './resource.js';
import type { SampleSourceStatus } from '../../contract/samplesource.js';
import { SOURCE_UID_LABEL } from './resources.js';
import { adapterDeploymentName, certSecretName, sinkServiceAccountName } from './names.js';
import { buildSinkServiceAccount } from './sink-identity.js';
import { OperatorPki } from './operator-pki.js';
import type { PodReport } from './status.js';
import { sinkKey } from './adapter-sink.js';
import type { AdapterPod } from './sessions.js';
import type { ApplyStatePayload } from '../../contract/commands.js';
import {
  UID,
  adapterPod,
  cacheOf,
  conditionsOf,
  DISPLAY_SERVICE,
  fixtureReconciler,
  sampleSourceObject,
  storedDeployment,
  testAdapterPki,
  validSource,
} from './fixtures.js';

const NS = 'demo';
const KEY = `${NS}/sample-source`;
const SINK_URI = 'http://display.demo.svc.cluster.local';
/** The digest of the sink a canned report was sent with: the display Service. */
const SENT = sinkKey({ uri: SINK_URI });
const plan = { adapter: { image: 'samplesource-adapter:0.1.0' } };
const SOURCE_PATH = resourcePath(SAMPLESOURCE_RESOURCE, NS, 'sample-source');
const SERVICE_PATH = `/api/v1/namespaces/${NS}/services/display`;
const SECRETS = `/api/v1/namespaces/${NS}/secrets`;
const DEPLOYMENTS = `/apis/apps/v1/namespaces/${NS}/deployments`;

const sourceObject = sampleSourceObject;
const valid = validSource;

const SOURCE = valid(sourceObject());
const SECRET_PATH = `${SECRETS}/${certSecretName(SOURCE)}`;
const DEPLOYMENT_PATH = `${DEPLOYMENTS}/${adapterDeploymentName(SOURCE)}`;

/** The adapter Deployment as the API server holds it once the Deployment controller saw it. */
function availableDeployment(owner = true): V1Deployment {
  const d = storedDeployment(SOURCE, SINK_URI, plan.adapter);
  if (!owner) d.metadata!.ownerReferences = [];
  return d;
}

function readyPod(name: string): V1Pod {
  return adapterPod(name, true, `10.0.0.${name.length}`);
}

/** Control sessions as the reconciler sees them: what was synced and sent, and canned reports. */
class FakeSessions implements SessionsPort {
  readonly log: string[] = [];
  constructor(private readonly canned: ReadonlyMap<string, PodReport> = new Map()) {}
  sync(sourceKey: string, _namespace: string, _name: string, pods: readonly AdapterPod[]): void {
    this.log.push(`sync ${sourceKey} [${pods.map((p) => p.name).join(',')}]`);
  }
  reports(): Map<string, PodReport> {
    return new Map(this.canned);
  }
  send(_sourceKey: string, podName: string, state: ApplyStatePayload): void {
    this.log.push(
      `send ${podName} g${state.generation} ${state.interval}${state.paused ? ' paused' : ''}${state.sink ? ` → ${state.sink.uri}` : ''}`,
    );
  }
  forget(sourceKey: string): void {
    this.log.push(`forget ${sourceKey}`);
  }
}

let pki: OperatorPki;
let certSecret: V1Secret;

beforeAll(async () => {
  ({ pki, certSecret } = await testAdapterPki(SOURCE));
  certSecret.metadata!.resourceVersion = '5';
});
afterAll(() => pki.stop());

interface Row {
  name: string;
  /** The source as the API server holds it (undefined: gone), and whether the cache still has it. */
  source?: object;
  cached?: boolean;
  service?: boolean;
  deployment?: V1Deployment;
  pods?: string[];
  reports?: Array<[string, PodReport]>;
  secret?: boolean;
  fault?: InjectedFault;
  /** Requests, in order, as `METHOD path`. */
  requests: string[];
  /** The stored status's conditions after the reconcile (unchanged when nothing was patched). */
  conditions?: Record<string, string>;
  events: string[];
  sessions: string[];
  /** What the reconcile returns: by default, a pass at the certificate's renewal time. */
  result?: Result | 'renewal' | 'nothing';
}

const READY = {
  Active: 'True',
  ConfigApplied: 'True',
  Deployed: 'True',
  Ready: 'True',
  SinkProvided: 'True',
};

const rows: Row[] = [
  {
    name: 'new source: issue the certificate, create the Deployment, write the first status',
    source: sourceObject(),
    service: true,
    requests: [
      `POST ${SECRETS}`,
      `GET ${SERVICE_PATH}`,
      `POST ${DEPLOYMENTS}`,
      `PATCH ${SOURCE_PATH}/status`,
    ],
    conditions: {
      Active: 'Unknown/AwaitingAdapters',
      ConfigApplied: 'Unknown/AwaitingAdapters',
      Deployed: 'Unknown/DeploymentMissing',
      Ready: 'Unknown/DeploymentMissing',
      SinkProvided: 'True',
    },
    events: ['Normal CertificateIssued', 'Normal DeploymentCreated'],
    sessions: [`sync ${KEY} []`],
  },
  {
    name: 'gone from the cache: close its sessions and touch nothing',
    result: 'nothing',
    cached: false,
    requests: [],
    events: [],
    sessions: [`forget ${KEY}`],
  },
  {
    name: 'deleted on the server, the cache not told yet: planned from the cache, the status write meets 404, its sessions close',
    result: 'nothing',
    cached: true,
    requests: [`POST ${SECRETS}`, `GET ${SERVICE_PATH}`, `PATCH ${SOURCE_PATH}/status`],
    events: ['Normal CertificateIssued'],
    sessions: [`sync ${KEY} []`, `forget ${KEY}`],
  },
  {
    name: 'Deployment available, two ready pods without results: send both the state, ConfigApplied Processing',
    source: sourceObject(),
    service: true,
    secret: true,
    deployment: availableDeployment(),
    pods: ['a', 'b'],
    requests: [`GET ${SERVICE_PATH}`, `PATCH ${SOURCE_PATH}/status`],
    conditions: {
      Active: 'Unknown/AwaitingAdapters',
      ConfigApplied: 'Unknown/Processing',
      Deployed: 'True',
      Ready: 'Unknown/Processing',
      SinkProvided: 'True',
    },
    events: [],
    sessions: [`sync ${KEY} [a,b]`, `send a g1 10s → ${SINK_URI}`, `send b g1 10s → ${SINK_URI}`],
  },
  {
    name: 'the sink moved, pods applied the old one: the new sink over the stream, no Deployment write, Processing',
    source: sourceObject({ sink: { uri: 'http://moved.example/' } }),
    secret: true,
    deployment: availableDeployment(),
    pods: ['a', 'b'],
    reports: [
      ['a', { generation: 1, state: 'succeeded', sinkKey: SENT }],
      ['b', { generation: 1, state: 'succeeded', sinkKey: SENT }],
    ],
    requests: [`PATCH ${SOURCE_PATH}/status`],
    conditions: {
      Active: 'Unknown/AwaitingAdapters',
      ConfigApplied: 'Unknown/Processing',
      Deployed: 'True',
      Ready: 'Unknown/Processing',
      SinkProvided: 'True',
    },
    events: [],
    sessions: [
      `sync ${KEY} [a,b]`,
      'send a g1 10s → http://moved.example/',
      'send b g1 10s → http://moved.example/',
    ],
  },
  {
    name: 'every ready pod applied the generation: Ready, with the transition events, nothing sent',
    source: sourceObject(),
    service: true,
    secret: true,
    deployment: availableDeployment(),
    pods: ['a', 'b'],
    reports: [
      ['a', { generation: 1, state: 'succeeded', sinkKey: SENT }],
      ['b', { generation: 1, state: 'succeeded', sinkKey: SENT }],
    ],
    requests: [`GET ${SERVICE_PATH}`, `PATCH ${SOURCE_PATH}/status`],
    conditions: READY,
    events: ['Normal ConfigApplied', 'Normal Ready'],
    sessions: [`sync ${KEY} [a,b]`],
  },
  {
    name: 'a pod failed the current generation: ConfigApplied False with its reason, a warning, no resend',
    source: sourceObject(),
    service: true,
    secret: true,
    deployment: availableDeployment(),
    pods: ['a'],
    reports: [
      ['a', { generation: 1, state: 'failed', reason: 'Rejected:Invalid', message: 'no', sinkKey: SENT }],
    ],
    requests: [`GET ${SERVICE_PATH}`, `PATCH ${SOURCE_PATH}/status`],
    conditions: {
      Active: 'Unknown/AwaitingAdapters',
      ConfigApplied: 'False/Rejected:Invalid',
      Deployed: 'True',
      Ready: 'False/Rejected:Invalid',
      SinkProvided: 'True',
    },
    events: ['Warning Rejected:Invalid'],
    sessions: [`sync ${KEY} [a]`],
  },
  {
    name: 'the sink Service is missing: no Deployment written, SinkProvided False, a warning',
    source: sourceObject(),
    service: false,
    secret: true,
    requests: [`GET ${SERVICE_PATH}`, `PATCH ${SOURCE_PATH}/status`],
    conditions: {
      Active: 'Unknown/AwaitingAdapters',
      ConfigApplied: 'Unknown/AwaitingAdapters',
      Deployed: 'Unknown/DeploymentMissing',
      Ready: 'False/SinkNotFound',
      SinkProvided: 'False/SinkNotFound',
    },
    events: ['Warning SinkNotFound'],
    sessions: [`sync ${KEY} []`],
  },
  {
    name: 'a Deployment of that name owned by someone else: left alone, nothing steered',
    source: sourceObject(),
    service: true,
    secret: true,
    deployment: availableDeployment(false),
    pods: ['a'],
    requests: [`GET ${SERVICE_PATH}`, `PATCH ${SOURCE_PATH}/status`],
    conditions: {
      Active: 'Unknown/AwaitingAdapters',
      ConfigApplied: 'Unknown/AwaitingAdapters',
      Deployed: 'False/NotOwned',
      Ready: 'False/NotOwned',
      SinkProvided: 'True',
    },
    events: ['Warning NotOwned'],
    sessions: [`sync ${KEY} [a]`],
  },
  {
    name: 'an invalid spec: sessions closed, InvalidSpec status and a warning, no children written',
    result: 'nothing',
    source: sourceObject({ interval: '1ms' }),
    requests: [`PATCH ${SOURCE_PATH}/status`],
    conditions: { ConfigApplied: 'False/InvalidSpec', Ready: 'False/InvalidSpec' },
    events: ['Warning InvalidSpec'],
    sessions: [`forget ${KEY}`],
  },
  {
    name: 'status written meanwhile (409 on the guarded patch): re-queued to plan again',
    source: sourceObject(),
    service: true,
    secret: true,
    deployment: availableDeployment(),
    fault: { method: 'PATCH', path: `${SOURCE_PATH}/status`, code: 409, reason: 'Conflict' },
    requests: [`GET ${SERVICE_PATH}`, `PATCH ${SOURCE_PATH}/status`],
    events: [],
    sessions: [`sync ${KEY} []`],
    result: { requeue: true },
  },
];

describe('sampleSourceReconciler (table)', () => {
  it.each(rows)('$name', async (row) => {
    const objects: Record<string, object> = {};
    if (row.source) objects[SOURCE_PATH] = row.source;
    if (row.service) objects[SERVICE_PATH] = DISPLAY_SERVICE;
    if (row.deployment) objects[DEPLOYMENT_PATH] = row.deployment;
    if (row.secret) objects[SECRET_PATH] = certSecret;
    const client = new RecordingFakeClient(objects);
    if (row.fault) client.inject(row.fault);
    const sessions = new FakeSessions(new Map(row.reports ?? []));
    const { reconcile, events } = fixtureReconciler({
      client,
      sources: cacheOf(row.source || row.cached ? [row.source ?? sourceObject()] : []),
      deployments: cacheOf(row.deployment ? [row.deployment] : []),
      pods: cacheOf((row.pods ?? []).map(readyPod)),
      secrets: cacheOf(row.secret ? [certSecret] : []),
      sessions,
      pki,
      plan,
    });

    const result = await reconcile();

    expect(client.calls).toEqual(row.requests);
    expect(events).toEqual(row.events);
    expect(sessions.log).toEqual(row.sessions);
    if (row.conditions) expect(conditionsOf(client.get(SOURCE_PATH)?.status)).toEqual(row.conditions);
    // A source that stays comes back when its certificate must be renewed (24 h leaves, renewed 8 h early).
    if (row.result === 'nothing') expect(result).toBeUndefined();
    else if (row.result === undefined || row.result === 'renewal')
      expect((result as Result).requeueAfterMs).toBeGreaterThan(15 * 3_600_000);
    else expect(result).toEqual(row.result);
  });

  it('plans against its own last write while the cache lags: no second read, no rewrite, no repeated events', async () => {
    const client = new RecordingFakeClient({
      [SOURCE_PATH]: sourceObject(),
      [SERVICE_PATH]: DISPLAY_SERVICE,
      [SECRET_PATH]: certSecret,
      [DEPLOYMENT_PATH]: availableDeployment(),
    });
    const { reconcile, events } = fixtureReconciler({
      client,
      sources: cacheOf([sourceObject()]), // never updated: the cache lags
      deployments: cacheOf([availableDeployment()]),
      pods: cacheOf([readyPod('a')]),
      secrets: cacheOf([certSecret]),
      sessions: new FakeSessions(new Map([['a', { generation: 1, state: 'succeeded', sinkKey: SENT }]])),
      pki,
      plan,
    });
    await reconcile();
    expect(events).toEqual(['Normal ConfigApplied', 'Normal Ready']);
    expect(conditionsOf(client.get(SOURCE_PATH)?.status)).toEqual(READY);
    const first = client.calls.length;
    await reconcile();
    expect(client.calls.slice(first)).toEqual([`GET ${SERVICE_PATH}`]);
    expect(events).toEqual(['Normal ConfigApplied', 'Normal Ready']);
  });
});

describe('sampleSourceReconciler: the sink identity of OIDC sinks', () => {
  const SA_NAME = sinkServiceAccountName(SOURCE);
  const SAS = `/api/v1/namespaces/${NS}/serviceaccounts`;

  async function reconcileWith(spec: Record<string, unknown>, serviceAccounts: object[]) {
    const source = sourceObject(spec);
    const client = new RecordingFakeClient({
      [SOURCE_PATH]: source,
      [SERVICE_PATH]: DISPLAY_SERVICE,
      [SECRET_PATH]: certSecret,
      ...Object.fromEntries(serviceAccounts.map((sa) => [`${SAS}/${SA_NAME}`, sa])),
    });
    const tokens: string[] = [];
    const { reconcile, events } = fixtureReconciler({
      client,
      sources: cacheOf([source]),
      deployments: cacheOf([]),
      pods: cacheOf([]),
      secrets: cacheOf([certSecret]),
      sessions: new FakeSessions(),
      pki,
      plan,
      sinkIdentity: {
        serviceAccounts: cacheOf(serviceAccounts),
        tokens: {
          want: (key, ns, sa, audience) => void tokens.push(`want ${key} ${ns}/${sa} ${audience}`),
          forget: (key) => void tokens.push(`forget ${key}`),
        },
      },
    });
    const outcome = await reconcile().then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    return { client, tokens, events, outcome };
  }

  const withAudience = {
    sink: { ref: { apiVersion: 'v1', kind: 'Service', name: 'display' }, audience: 'aud-1' },
  };

  it('creates a ServiceAccount controlled by the source, asks for its tokens and tells the adapters the audience', async () => {
    const { client, tokens, events } = await reconcileWith(withAudience, []);
    expect(client.calls).toContain(`POST ${SAS}`);
    const sa = client.get(`${SAS}/${SA_NAME}`) as unknown as V1ServiceAccount;
    expect(sa.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'SampleSource', uid: UID, controller: true }),
    ]);
    expect(sa.metadata?.labels).toMatchObject({
      'app.kubernetes.io/name': 'samplesource-adapter',
      'app.kubernetes.io/component': 'sink-identity',
      [SOURCE_UID_LABEL]: UID,
    });
    expect(sa.automountServiceAccountToken).toBe(false);
    expect(tokens).toEqual([`want ${KEY} ${NS}/${SA_NAME} aud-1`]);
    expect(events).toContain('Normal SinkServiceAccountCreated');
    expect((client.get(SOURCE_PATH)?.status as SampleSourceStatus).sinkAudience).toBe('aud-1');
    const deployment = client.get(DEPLOYMENT_PATH) as unknown as V1Deployment;
    expect(deployment.spec!.template.spec!.containers[0]!.env).toContainEqual({
      name: 'K_AUDIENCE',
      value: 'aud-1',
    });
  });

  it('keeps an existing account of its own without writing it again', async () => {
    const own = buildSinkServiceAccount(SOURCE);
    const { client, tokens } = await reconcileWith(withAudience, [own]);
    expect(client.calls.filter((c) => c.includes('serviceaccounts'))).toEqual([]);
    expect(tokens).toEqual([`want ${KEY} ${NS}/${SA_NAME} aud-1`]);
  });

  it('deletes its account and stops the tokens once the audience goes', async () => {
    const { client, tokens, events } = await reconcileWith({}, [buildSinkServiceAccount(SOURCE)]);
    expect(client.calls).toContain(`DELETE ${SAS}/${SA_NAME}`);
    expect(client.get(`${SAS}/${SA_NAME}`)).toBeUndefined();
    expect(tokens).toEqual([`forget ${KEY}`]);
    expect(events).toContain('Normal SinkServiceAccountDeleted');
    const deployment = client.get(DEPLOYMENT_PATH) as unknown as V1Deployment;
    expect(deployment.spec!.template.spec!.containers[0]!.env!.map((e) => e.name)).not.toContain(
      'K_AUDIENCE',
    );
  });

  it('never takes over an account of that name it does not control', async () => {
    const foreign = { ...buildSinkServiceAccount(SOURCE), metadata: { name: SA_NAME, namespace: NS } };
    const { client, tokens, outcome } = await reconcileWith(withAudience, [foreign]);
    expect(outcome).toBeInstanceOf(TerminalError);
    expect(outcome!.message).toMatch(/not controlled by this SampleSource/);
    expect(tokens).toEqual([]);
    expect(client.calls.filter((c) => c.includes('serviceaccounts'))).toEqual([]);
  });
});
