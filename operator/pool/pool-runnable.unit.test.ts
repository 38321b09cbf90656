// Pool membership from the Pod watch, and PoolSessions bound to a leadership term: outside a term
// nothing is placed or steered; each term starts fresh with the latest members.
import { pino } from 'pino';
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeObject } from '../runtime/index.js';
import { poolMembers } from './pool-pods.js';
import { PoolRunnable } from './pool-runnable.js';

function pod(name: string, over: { ip?: string; ready?: boolean; phase?: string; deleting?: boolean } = {}) {
  const p: V1Pod = {
    metadata: {
      name,
      namespace: 'samplesource-system',
      ...(over.deleting ? { deletionTimestamp: new Date() } : {}),
    },
    status: {
      phase: over.phase ?? 'Running',
      ...(over.ip === '' ? {} : { podIP: over.ip ?? `10.0.0.${name.length}` }),
      conditions: [{ type: 'Ready', status: over.ready === false ? 'False' : 'True' }],
    },
  };
  return p as unknown as KubeObject;
}

describe('poolMembers', () => {
  it('keeps only Running, Ready pods with an IP that are not terminating, sorted, with their control target', () => {
    const members = poolMembers(
      [
        pod('pool-c', { ip: '10.1.0.3' }),
        pod('pool-a', { ip: '10.1.0.1' }),
        pod('pool-unready', { ready: false }),
        pod('pool-noip', { ip: '' }),
        pod('pool-pending', { phase: 'Pending' }),
        pod('pool-going', { deleting: true }),
      ],
      9443,
    );
    expect(members).toEqual([
      { name: 'pool-a', target: '10.1.0.1:9443' },
      { name: 'pool-c', target: '10.1.0.3:9443' },
    ]);
  });
});

describe('PoolRunnable', () => {
  const tls = () => ({ caPem: '', certPem: '', keyPem: '' });
  it('places nothing outside a term, and a term aborted leaves no state behind', async () => {
    const changes: string[] = [];
    const r = new PoolRunnable({
      tls,
      identity: 'spiffe://x/operator',
      onChange: (k) => void changes.push(k),
      logger: pino({ level: 'silent' }),
    });
    const source = {
      key: 'demo/a',
      uid: 'u',
      generation: 1,
      interval: '10s',
      paused: false,
      sink: { uri: 'http://sink.demo.svc' },
    };
    r.upsertSource(source);
    expect(r.status('demo/a')).toBeUndefined();
    const abort = new AbortController();
    const term = r.run(abort.signal);
    r.upsertSource(source);
    expect(r.status('demo/a')).toEqual({ phase: 'unplaced' });
    r.setPods([]);
    abort.abort();
    await term;
    expect(r.status('demo/a')).toBeUndefined();
    // The next term knows nothing of the previous one's sources until reconciles upsert them again.
    const again = new AbortController();
    const next = r.run(again.signal);
    expect(r.status('demo/a')).toBeUndefined();
    again.abort();
    await next;
    expect(changes).toEqual([]);
  });
});
