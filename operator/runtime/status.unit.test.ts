import { deepEqual, mergePatch } from './status.js';
import { Cache } from './cache.js';
import { parseKey, resourcePath } from './objects.js';
import { enqueueControllerOwner } from './owner.js';
import { generationChanged } from './predicates.js';
import type { KubeObject } from './objects.js';

describe('status helpers', () => {
  it('deepEqual ignores key order and undefined fields', () => {
    expect(deepEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1, d: undefined })).toBe(true);
    expect(deepEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
  });

  it('mergePatch nulls removed keys, recurses into maps and replaces arrays', () => {
    expect(mergePatch({ a: 1, b: { c: 1, d: 2 }, e: [1] }, { b: { c: 1, d: 3 }, e: [1, 2], f: 'x' })).toEqual(
      {
        a: null,
        b: { d: 3 },
        e: [1, 2],
        f: 'x',
      },
    );
  });
});

const obj = (name: string, rv: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  metadata: { name, namespace: 'ns', resourceVersion: rv, ...extra },
});

describe('cache and mapping', () => {
  it('replace reports adds, real updates with the old object, and deletes', () => {
    const c = new Cache<KubeObject>();
    c.upsert(obj('a', '1'));
    c.upsert(obj('b', '1'));
    c.upsert(obj('c', '1'));
    const diff = c.replace([obj('a', '1'), obj('b', '2'), obj('d', '1')]);
    expect(diff.added.map((o) => o.metadata.name)).toEqual(['d']);
    expect(diff.updated.map(([o, n]) => [o.metadata.resourceVersion, n.metadata.resourceVersion])).toEqual([
      ['1', '2'],
    ]);
    expect(diff.deleted.map((o) => o.metadata.name)).toEqual(['c']);
    expect(c.keys().sort()).toEqual(['ns/a', 'ns/b', 'ns/d']);
  });

  it('paths and keys', () => {
    expect(resourcePath({ apiVersion: 'apps/v1', plural: 'deployments' }, 'x', 'y', 'status')).toBe(
      '/apis/apps/v1/namespaces/x/deployments/y/status',
    );
    expect(resourcePath({ apiVersion: 'v1', plural: 'namespaces', namespaced: false }, 'ignored')).toBe(
      '/api/v1/namespaces',
    );
    expect(parseKey('ns/name')).toEqual({ namespace: 'ns', name: 'name' });
    expect(parseKey('cluster-scoped')).toEqual({ name: 'cluster-scoped' });
  });

  it('enqueueControllerOwner maps only the controller owner of the right kind', () => {
    const map = enqueueControllerOwner({ apiVersion: 'samples.example.com/v1', kind: 'Thing' });
    const owned = obj('child', '1', {
      ownerReferences: [
        {
          apiVersion: 'samples.example.com/v1alpha1',
          kind: 'Thing',
          name: 'parent',
          uid: 'u',
          controller: true,
        },
        { apiVersion: 'v1', kind: 'ConfigMap', name: 'other', uid: 'v' },
      ],
    });
    expect(map(owned)).toEqual([{ namespace: 'ns', name: 'parent' }]);
    const notController = obj('child', '1', {
      ownerReferences: [{ apiVersion: 'samples.example.com/v1', kind: 'Thing', name: 'p', uid: 'u' }],
    });
    expect(map(notController)).toEqual([]);
  });

  it('generationChanged drops status-only updates', () => {
    const p = generationChanged<KubeObject>();
    expect(p.update!(obj('a', '1', { generation: 1 }), obj('a', '2', { generation: 1 }))).toBe(false);
    expect(p.update!(obj('a', '1', { generation: 1 }), obj('a', '2', { generation: 2 }))).toBe(true);
  });
});
