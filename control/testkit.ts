// The set-up every control test file shares: one fixture PKI made before the file's tests, and
// whatever a test opened closed after it. For jest test files only (it registers hooks).
import { afterEach, beforeAll } from '@jest/globals';
import { closeTracker, makeTestPki, type TestPki } from './testing.js';

/**
 * Registers `beforeAll` (makes the PKI) and `afterEach` (closes what was tracked). `p` is filled
 * in before the first test runs: read it inside tests and hooks, not at the top of the file.
 */
export function controlTestkit(): { p: TestPki } & ReturnType<typeof closeTracker> {
  const p = {} as TestPki;
  const tracker = closeTracker();
  beforeAll(async () => {
    Object.assign(p, await makeTestPki());
  });
  afterEach(tracker.closeAll);
  return { p, ...tracker };
}
