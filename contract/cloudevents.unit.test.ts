import { CloudEventOverridesSchema, ceExtensionNameProblem } from './cloudevents.js';
import { CE_EXTENSION_NAME } from './cloudevents.js';

const CE_NAME_SOURCE = CE_EXTENSION_NAME.source;

describe('CloudEvent extension names (one rule for CRD, operator and adapter)', () => {
  it.each([
    ['team', undefined],
    ['a1', undefined],
    ['x'.repeat(20), undefined],
    ['x'.repeat(21), 'must be 1-20 lowercase letters or digits'],
    ['Team', 'must be 1-20 lowercase letters or digits'],
    ['my-ext', 'must be 1-20 lowercase letters or digits'],
    ['', 'must be 1-20 lowercase letters or digits'],
    ['time', 'cannot override a core CloudEvents attribute'],
    ['id', 'cannot override a core CloudEvents attribute'],
    ['specversion', 'cannot override a core CloudEvents attribute'],
    ['data', 'cannot override a core CloudEvents attribute'],
  ])('%j -> %s', (name, problem) => {
    const found = ceExtensionNameProblem(name);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });

  it('names the offending extension in the schema error path', () => {
    const parsed = CloudEventOverridesSchema.safeParse({ extensions: { team: 'blue', time: 'now' } });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.path)).toEqual([['extensions', 'time']]);
  });
});

describe('the CRD mirrors the contract', () => {
  it('lists exactly the reserved attributes in its CEL rule', async () => {
    const { readFile } = await import('node:fs/promises');
    const crd = await readFile(new URL('../config/300-samplesource-crd.yaml', import.meta.url), 'utf8');
    const rule = /!self\.exists\(k, k in \[([^\]]*)\]\)/.exec(crd);
    expect(rule).not.toBeNull();
    const listed = [...(rule?.[1] ?? '').matchAll(/'([a-z]+)'/g)].map((m) => m[1]);
    const { RESERVED_CE_ATTRIBUTES } = await import('./cloudevents.js');
    expect(new Set(listed)).toEqual(new Set(RESERVED_CE_ATTRIBUTES));
    expect(crd).toContain(`k.matches('${CE_NAME_SOURCE}')`);
  });
});
