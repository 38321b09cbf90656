import { ConditionSet, type ConditionedStatus } from './conditions.js';

const set = ConditionSet.living('SinkProvided', 'Deployed');
const at = (iso: string) => () => new Date(iso);

describe('ConditionSet (Knative semantics)', () => {
  it('initializes Ready and the dependents as Unknown', () => {
    const status: ConditionedStatus = {};
    set.manage(status, at('2026-01-01T00:00:00Z')).initialize();
    expect(status.conditions?.map((c) => [c.type, c.status])).toEqual([
      ['Deployed', 'Unknown'],
      ['Ready', 'Unknown'],
      ['SinkProvided', 'Unknown'],
    ]);
  });

  it('Ready becomes True only when every dependent is True, and carries the blocking reason otherwise', () => {
    const status: ConditionedStatus = {};
    const m = set.manage(status, at('2026-01-01T00:00:00Z'));
    m.initialize();
    m.markFalse('Deployed', 'DeploymentUnavailable', 'no replicas');
    m.markTrue('SinkProvided');
    expect(m.happy()).toMatchObject({
      status: 'False',
      reason: 'DeploymentUnavailable',
      message: 'no replicas',
    });
    m.markTrue('Deployed');
    expect(m.isHappy()).toBe(true);
    expect(m.happy()?.reason).toBeUndefined();
  });

  it('a False dependent outranks an Unknown one', () => {
    const status: ConditionedStatus = {};
    const m = set.manage(status);
    m.markFalse('SinkProvided', 'NotFound', 'sink missing');
    m.markUnknown('Deployed', 'Processing', 'rolling out');
    expect(m.happy()).toMatchObject({ status: 'False', reason: 'NotFound' });
    expect(m.get('Deployed')).toMatchObject({ status: 'Unknown', reason: 'Processing' });
  });

  it('Unknown on a dependent makes Ready Unknown when nothing failed', () => {
    const status: ConditionedStatus = {};
    const m = set.manage(status);
    m.markTrue('SinkProvided');
    m.markTrue('Deployed');
    m.markUnknown('Deployed', 'Processing', '');
    expect(m.happy()).toMatchObject({ status: 'Unknown', reason: 'Processing' });
  });

  it('conditions outside the set are Info and never touch Ready', () => {
    const status: ConditionedStatus = {};
    const m = set.manage(status);
    m.markTrue('SinkProvided');
    m.markTrue('Deployed');
    m.markFalse('Active', 'Paused', 'paused by the user');
    expect(m.get('Active')).toMatchObject({ status: 'False', severity: 'Info', reason: 'Paused' });
    expect(m.isHappy()).toBe(true);
  });

  it('keeps lastTransitionTime when nothing changed and moves it on a real change', () => {
    const status: ConditionedStatus = {};
    let now = '2026-01-01T00:00:00Z';
    const m = set.manage(status, () => new Date(now));
    m.markTrue('SinkProvided');
    m.markTrue('Deployed');
    const before = structuredClone(status.conditions);
    now = '2026-01-01T01:00:00Z';
    m.markTrue('SinkProvided');
    m.markTrue('Deployed');
    expect(status.conditions).toEqual(before);
    m.markFalse('Deployed', 'Gone', 'deleted');
    expect(m.get('Deployed')?.lastTransitionTime).toBe('2026-01-01T01:00:00Z');
    expect(m.get('SinkProvided')?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
  });
});
