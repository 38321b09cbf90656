// The pool certificate: issued by the operator's real CA into a Secret in its namespace (through
// the recording fake API server), kept while current, issued again when it would expire or the CA
// changed, and never written over a Secret of that name the operator did not write.
import { pino } from 'pino';
import type { V1Secret } from '@kubernetes/client-node';
import { sanUris } from '../../control/pki.js';
import { POOL_IDENTITY } from '../../contract/identities.js';
import { RecordingFakeClient } from '../runtime/testing.js';
import { OperatorPki } from './operator-pki.js';
import { checkPoolSecret, PoolCertificate } from './pool-certificate.js';

const NS = 'samplesource-system';
const PATH = `/api/v1/namespaces/${NS}/secrets/samplesource-pool-tls`;
const logger = pino({ level: 'silent' });
let pki: OperatorPki;
let otherPki: OperatorPki;

beforeAll(async () => {
  pki = await OperatorPki.load(new RecordingFakeClient(), { namespace: NS, logger });
  otherPki = await OperatorPki.load(new RecordingFakeClient(), { namespace: NS, logger });
});
afterAll(() => {
  pki.stop();
  otherPki.stop();
});

const decode = (s: V1Secret, key: string) => Buffer.from(s.data![key]!, 'base64').toString('utf8');

describe('PoolCertificate', () => {
  it('issues the pool identity into a labelled kubernetes.io/tls Secret, then keeps it', async () => {
    const client = new RecordingFakeClient();
    const cert = new PoolCertificate({ client, pki, namespace: NS, logger });
    const now = new Date();
    const waitMs = await cert.ensure(now);
    expect(client.calls).toEqual([`GET ${PATH}`, `POST /api/v1/namespaces/${NS}/secrets`]);
    const secret = client.get(PATH) as unknown as V1Secret;
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(secret.metadata?.labels?.['app.kubernetes.io/component']).toBe('pool-certificate');
    expect(sanUris(decode(secret, 'tls.crt'))).toEqual([POOL_IDENTITY]);
    expect(decode(secret, 'ca.crt').trim()).toBe(pki.caPem.trim());
    // 24 h leaves renewed 8 h before they expire.
    expect(waitMs).toBeGreaterThan(15 * 3_600_000);
    expect(waitMs).toBeLessThanOrEqual(16 * 3_600_000);
    await cert.ensure(now);
    expect(client.calls.slice(2)).toEqual([`GET ${PATH}`]);
  });

  it('issues again within the renewal window and after a CA change; refuses a foreign Secret', async () => {
    const client = new RecordingFakeClient();
    await new PoolCertificate({ client, pki, namespace: NS, logger }).ensure(new Date());
    const secret = client.get(PATH) as unknown as V1Secret;
    const in17h = new Date(Date.now() + 17 * 3_600_000);
    expect(checkPoolSecret(secret, { caPem: pki.caPem, now: new Date() }).action).toBe('keep');
    expect(checkPoolSecret(secret, { caPem: pki.caPem, now: in17h })).toEqual({
      action: 'issue',
      reason: 'Expiring',
    });
    expect(checkPoolSecret(secret, { caPem: otherPki.caPem, now: new Date() })).toEqual({
      action: 'issue',
      reason: 'CaChanged',
    });
    expect(checkPoolSecret(undefined, { caPem: pki.caPem, now: new Date() })).toEqual({
      action: 'issue',
      reason: 'Missing',
    });
    const foreign = { ...secret, metadata: { ...secret.metadata, labels: {} } };
    expect(checkPoolSecret(foreign, { caPem: pki.caPem, now: new Date() }).action).toBe('conflict');

    // A rotation writes the Secret in place (PUT over the read resourceVersion).
    await new PoolCertificate({ client, pki: otherPki, namespace: NS, logger }).ensure(new Date());
    expect(client.calls.at(-1)).toBe(`PUT ${PATH}`);
    const rotated = client.get(PATH) as unknown as V1Secret;
    expect(decode(rotated, 'ca.crt').trim()).toBe(otherPki.caPem.trim());

    const foreignClient = new RecordingFakeClient({ [PATH]: foreign });
    await new PoolCertificate({ client: foreignClient, pki, namespace: NS, logger }).ensure(new Date());
    expect(foreignClient.calls).toEqual([`GET ${PATH}`]);
  });
});
