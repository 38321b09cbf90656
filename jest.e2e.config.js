// End-to-end suite (`npm run test:e2e`): the whole system on its own real control plane, with
// the operator and adapters running as Pods. Separate from jest.config.js because it installs
// config/ cluster-wide; scenarios run one at a time, in file order.
import process from 'node:process';
import { common } from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...common,
  displayName: 'e2e',
  testMatch: ['<rootDir>/test/e2e/**/*.e2e.test.ts'],
  // The scenarios only a real node can check run only there (not on the node agent, not on kind).
  testPathIgnorePatterns:
    (process.env.E2E_PLATFORM ?? 'node') === 'node' ? [] : ['/real-node\\.e2e\\.test\\.ts$'],
  globalSetup: '<rootDir>/test/support/e2e-global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  maxWorkers: 1,
  testTimeout: 180_000,
};
