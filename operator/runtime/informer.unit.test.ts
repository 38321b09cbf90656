// Informer behaviour that needs precise fault injection: a scripted fake client.
import { ApiError, type KubeClient } from './client.js';
import { Informer } from './informer.js';

type Step = { kind: 'list'; result: unknown } | { kind: 'error'; err: ApiError };

function scriptedClient(
  lists: Step[],
  watchLines: string[][],
): { client: KubeClient; calls: Array<[string, number]> } {
  const calls: Array<[string, number]> = [];
  const client: KubeClient = {
    async request<T>(): Promise<T> {
      calls.push(['list', Date.now()]);
      const step = lists.shift() ?? {
        kind: 'list',
        result: { metadata: { resourceVersion: '1' }, items: [] },
      };
      if (step.kind === 'error') throw step.err;
      return step.result as T;
    },
    async stream(_path, init) {
      calls.push(['watch', Date.now()]);
      const lines = watchLines.shift();
      if (!lines) {
        // Hold the watch open until aborted, like a quiet server.
        await new Promise<void>((_, reject) => {
          if (init.signal?.aborted) return reject(new ApiError('aborted', 0));
          init.signal?.addEventListener('abort', () => reject(new ApiError('aborted', 0)));
        });
        return;
      }
      for (const line of lines) init.onLine(line);
    },
  };
  return { client, calls };
}

const cm = (name: string, rv: string, v: string) => ({
  metadata: { name, namespace: 'ns', resourceVersion: rv },
  data: { v },
});

describe('Informer (scripted client)', () => {
  it('honours Retry-After on 429 and keeps going after other errors instead of stopping', async () => {
    const { client, calls } = scriptedClient(
      [
        { kind: 'error', err: new ApiError('throttled', 429, 'TooManyRequests', 400) },
        { kind: 'error', err: new ApiError('boom', 500) },
        {
          kind: 'list',
          result: {
            kind: 'ConfigMapList',
            apiVersion: 'v1',
            metadata: { resourceVersion: '5' },
            items: [cm('a', '5', '1')],
          },
        },
      ],
      [],
    );
    const informer = new Informer(client, {
      resource: { apiVersion: 'v1', plural: 'configmaps' },
      backoff: { initialMs: 50, maxMs: 100 },
    });
    informer.start();
    await informer.waitForSync();
    await informer.stop();
    const lists = calls.filter(([k]) => k === 'list').map(([, t]) => t);
    expect(lists).toHaveLength(3);
    expect(lists[1]! - lists[0]!).toBeGreaterThanOrEqual(390);
    expect(lists[2]! - lists[1]!).toBeLessThan(300);
    expect(informer.lister.get('ns/a')).toMatchObject({
      kind: 'ConfigMap',
      apiVersion: 'v1',
      data: { v: '1' },
    });
  });

  it('treats a 410 ERROR event as a cue to relist, and skips objects that fail validation', async () => {
    const updates: Array<[string, string]> = [];
    const { client, calls } = scriptedClient(
      [
        {
          kind: 'list',
          result: { metadata: { resourceVersion: '5' }, items: [cm('a', '5', '1'), { metadata: {} }] },
        },
        { kind: 'list', result: { metadata: { resourceVersion: '9' }, items: [cm('a', '9', '3')] } },
      ],
      [
        [
          JSON.stringify({ type: 'MODIFIED', object: cm('a', '6', '2') }),
          JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '7' } } }),
          JSON.stringify({
            type: 'ERROR',
            object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' },
          }),
        ],
      ],
    );
    const informer = new Informer<{
      metadata: { name: string; namespace?: string; resourceVersion?: string };
      data?: { v: string };
    }>(client, {
      resource: { apiVersion: 'v1', plural: 'configmaps' },
      backoff: { initialMs: 10, maxMs: 20 },
    });
    informer.addHandler({ onUpdate: (o, n) => updates.push([o.data!.v, n.data!.v]) });
    informer.start();
    const deadline = Date.now() + 3_000;
    while (informer.stats.lists < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await informer.stop();
    expect(informer.stats.gone).toBe(1);
    expect(updates).toEqual([
      ['1', '2'],
      ['2', '3'],
    ]);
    expect(informer.lister.size).toBe(1);
    expect(calls.map(([k]) => k).slice(0, 3)).toEqual(['list', 'watch', 'list']);
  });
});
