// OperatorPki.load's side effects, as a table: which requests it makes against the CA Secret for
// each state of the API server (missing, present, lost race, broken), through the recording fake.
import { pino } from 'pino';
import { RecordingFakeClient, type InjectedFault } from '../runtime/testing.js';
import { OperatorPki } from './operator-pki.js';
import { createCertificateAuthority } from '../../control/index.js';

const NS = 'samplesource-system';
const SECRETS = `/api/v1/namespaces/${NS}/secrets`;
const CA_PATH = `${SECRETS}/samplesource-operator-ca`;
const logger = pino({ level: 'silent' });
const b64 = (s: string) => Buffer.from(s).toString('base64');

interface Row {
  name: string;
  existing?: 'valid' | 'incomplete';
  faults?: InjectedFault[];
  requests: string[];
  /** The error load must fail with, if any. */
  error?: RegExp;
}

let existingCa: { certPem: string; keyPem: string };
beforeAll(async () => {
  existingCa = await createCertificateAuthority({ commonName: 'existing', validityHours: 24 });
});

const rows: Row[] = [
  { name: 'no CA Secret yet: create it', requests: [`GET ${CA_PATH}`, `POST ${SECRETS}`] },
  { name: 'a CA Secret exists: use it, write nothing', existing: 'valid', requests: [`GET ${CA_PATH}`] },
  {
    name: 'another replica created it first: read theirs',
    existing: 'valid',
    faults: [
      { method: 'GET', path: CA_PATH, code: 404, reason: 'NotFound' },
      { method: 'POST', path: SECRETS, code: 409, reason: 'AlreadyExists' },
    ],
    requests: [`GET ${CA_PATH}`, `POST ${SECRETS}`, `GET ${CA_PATH}`],
  },
  {
    name: 'a CA Secret without its key: a clear error, nothing overwritten',
    existing: 'incomplete',
    requests: [`GET ${CA_PATH}`],
    error: /lacks ca\.crt or ca\.key/,
  },
  {
    name: 'the API server refuses the read: the error surfaces, nothing created',
    faults: [{ method: 'GET', path: CA_PATH, code: 403, reason: 'Forbidden' }],
    requests: [`GET ${CA_PATH}`],
    error: /injected Forbidden/,
  },
];

describe('OperatorPki.load (table)', () => {
  it.each(rows)('$name', async (row) => {
    const objects: Record<string, object> = {};
    if (row.existing) {
      objects[CA_PATH] = {
        metadata: { name: 'samplesource-operator-ca', namespace: NS },
        data:
          row.existing === 'valid'
            ? { 'ca.crt': b64(existingCa.certPem), 'ca.key': b64(existingCa.keyPem) }
            : { 'ca.crt': b64(existingCa.certPem) },
      };
    }
    const client = new RecordingFakeClient(objects);
    for (const f of row.faults ?? []) client.inject(f);
    const loading = OperatorPki.load(client, { namespace: NS, logger });
    if (row.error) {
      await expect(loading).rejects.toThrow(row.error);
    } else {
      const pki = await loading;
      pki.stop();
      if (row.existing === 'valid') expect(pki.caPem).toBe(existingCa.certPem);
      else expect(pki.caPem).not.toBe(existingCa.certPem);
      // What is in force is what the Secret holds, for every replica.
      const stored = client.get(CA_PATH) as unknown as { data: Record<string, string> };
      expect(Buffer.from(stored.data['ca.crt']!, 'base64').toString()).toBe(pki.caPem);
    }
    expect(client.calls).toEqual(row.requests);
  });
});
