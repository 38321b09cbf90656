// Shared connection pools: one per CA set, one URL per (sink, CA set), closed with their last
// user, and a closed pool never handed out again.
import { createCertificateAuthority } from '../../control/pki.js';
import { SharedSinks } from './shared-sinks.js';

describe('SharedSinks', () => {
  let caA: string;
  let caB: string;
  beforeAll(async () => {
    caA = (await createCertificateAuthority({ commonName: 'sink CA a' })).certPem;
    caB = (await createCertificateAuthority({ commonName: 'sink CA b' })).certPem;
  });

  it('shares one connection pool per CA set and one URL per (sink, CA set)', async () => {
    const sinks = new SharedSinks();
    const a1 = sinks.acquire('http://127.0.0.1:1/a', undefined);
    const a2 = sinks.acquire('http://127.0.0.1:1/a', undefined);
    const b = sinks.acquire('http://127.0.0.1:1/b', undefined);
    const tlsA = sinks.acquire('https://127.0.0.1:2/', caA);
    // The same PEM text in another string object (as each parsed assignment brings its own).
    const tlsA2 = sinks.acquire('https://127.0.0.1:2/', `${caA.slice(0, 10)}${caA.slice(10)}`);
    const tlsB = sinks.acquire('https://127.0.0.1:2/', caB);
    expect(a1).toBe(a2);
    expect(b).not.toBe(a1);
    expect(b.dispatcher).toBe(a1.dispatcher);
    expect(b.url.href).toBe('http://127.0.0.1:1/b');
    expect(tlsA2).toBe(tlsA);
    expect(tlsA.dispatcher).not.toBe(a1.dispatcher);
    expect(tlsB.dispatcher).not.toBe(tlsA.dispatcher);
    expect(tlsB.caCerts).toBe(caB);
    expect(sinks.agentCount).toBe(3);
    expect(sinks.sinkCount).toBe(4);
    await sinks.close();
  });

  it('closes a connection pool with its last user, and hands out a fresh one after', async () => {
    const sinks = new SharedSinks();
    const one = sinks.acquire('http://127.0.0.1:1/', undefined);
    const two = sinks.acquire('http://127.0.0.1:1/other', undefined);
    const agent = one.dispatcher;
    await sinks.release(one);
    expect(agent.closed).toBe(false);
    expect(sinks.sinkCount).toBe(1);
    await sinks.release(two);
    expect(agent.closed).toBe(true);
    expect(sinks.agentCount).toBe(0);
    // A second release of the same handle changes nothing.
    await sinks.release(two);
    const again = sinks.acquire('http://127.0.0.1:1/', undefined);
    expect(again.dispatcher).not.toBe(agent);
    expect(again.dispatcher.closed).toBe(false);
    await sinks.close();
    expect(again.dispatcher.closed).toBe(true);
  });
});
