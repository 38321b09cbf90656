import { ChannelSource } from './channel-source.js';
import { Controller } from './controller.js';

/** Settles once every key in `want` was reconciled (or fails after 5 s). */
async function reconciledAll(seen: string[], want: string[]): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!want.every((k) => seen.includes(k))) {
    if (Date.now() > deadline) throw new Error(`timed out; reconciled ${JSON.stringify(seen)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('ChannelSource', () => {
  it('delivers each value to every subscriber until it unsubscribes', () => {
    const source = new ChannelSource<number>();
    const a: number[] = [];
    const b: number[] = [];
    const offA = source.subscribe((v) => a.push(v));
    source.subscribe((v) => b.push(v));
    source.send(1);
    offA();
    source.send(2);
    expect(a).toEqual([1]);
    expect(b).toEqual([1, 2]);
    expect(source.size).toBe(1);
  });

  it('triggers reconciles of the keys and requests sent, while the controller runs', async () => {
    const seen: string[] = [];
    const source = new ChannelSource();
    const c = new Controller({
      name: 't',
      reconcile: async (req) => void seen.push(`${req.namespace}/${req.name}`),
    });
    c.watchesChannel(source);
    source.send('ns/dropped'); // not running (not leading): dropped, as informer events are
    c.start();
    source.send('ns/a');
    source.send({ namespace: 'ns', name: 'b' });
    await reconciledAll(seen, ['ns/a', 'ns/b']);
    expect(seen).not.toContain('ns/dropped');
    await c.stop(1_000);
    source.send('ns/after-stop');
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).not.toContain('ns/after-stop');
  });

  it('maps arbitrary values to requests (a tracked object to the sources that point at it)', async () => {
    const seen: string[] = [];
    const sinks = new ChannelSource<{ sink: string; users: string[] }>();
    const c = new Controller({ name: 't', reconcile: async (req) => void seen.push(req.name) });
    c.watchesChannel(sinks, (changed) => changed.users.map((name) => ({ namespace: 'ns', name })));
    c.start();
    sinks.send({ sink: 'display', users: ['s1', 's2'] });
    await reconciledAll(seen, ['s1', 's2']);
    expect([...seen].sort()).toEqual(['s1', 's2']);
    await c.stop(1_000);
  });
});
