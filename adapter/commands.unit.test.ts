import { applyChange } from './commands.js';
import { StateStore } from './state.js';

describe('applyChange (generation rules)', () => {
  it('applies newer generations, re-applies the same one, and supersedes older ones', () => {
    const store = new StateStore('p', { intervalMs: 10_000, paused: false });
    expect(applyChange(store, { generation: 3, intervalMs: 500 })).toMatchObject({
      applied: true,
      changed: true,
      state: { generation: 3, intervalMs: 500 },
    });
    expect(applyChange(store, { generation: 3, intervalMs: 500 })).toMatchObject({
      applied: true,
      changed: false,
    });
    expect(applyChange(store, { generation: 3, paused: true })).toMatchObject({
      applied: true,
      changed: true,
      state: { paused: true, generation: 3 },
    });
    const old = applyChange(store, { generation: 2, intervalMs: 100, paused: false });
    expect(old).toMatchObject({
      applied: false,
      reason: 'Superseded',
      message: 'generation 2 is older than generation 3 already applied; not applied',
    });
    expect(store.snapshot()).toMatchObject({ generation: 3, intervalMs: 500, paused: true });
  });
});
