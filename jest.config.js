// Native ESM jest: @kubernetes/client-node (1.x and later) ships only ES modules, so the
// whole project is ESM and jest runs with --experimental-vm-modules (see package.json).
export const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  // Sources import './x.js' (NodeNext style); map those back to the .ts files under test.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    // Type checking is `npm run typecheck`'s job; here transpile only, for speed.
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
};

/** @type {import('jest').Config} */
export default {
  // Real servers and sockets: keep parallelism modest on a 2-core machine.
  maxWorkers: 2,
  testTimeout: 60_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      // Pure code and real loopback sockets; no Kubernetes needed.
      // One naming scheme across the tree: *.unit.test.ts, *.cluster.test.ts, *.e2e.test.ts; the
      // unit tier includes test/integration/ (operator and adapter processes over real sockets, no Kubernetes).
      testMatch: [
        '<rootDir>/{contract,control,adapter,operator,scripts,test/integration,test/nodeagent}/**/*.unit.test.ts',
      ],
    },
    {
      ...common,
      displayName: 'cluster',
      // Everything that talks to the real kube-apiserver: one control plane per run.
      testMatch: ['<rootDir>/{test,operator}/**/*.cluster.test.ts'],
      // End-to-end tests install config/ into their own control plane: jest.e2e.config.js.
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/e2e/', '<rootDir>/test/integration/'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
