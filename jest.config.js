/**
 * jose v6 and openid-client v6 are ESM-only, so the project is ESM end to end:
 * ts-jest compiles to ESM and jest runs with --experimental-vm-modules (see package.json).
 *
 * Two projects: `unit` (no outside services; in-test doubles only) and `e2e` (the real stack:
 * Keycloak, NGINX, MLflow, MinIO and the built service, brought up by scripts/stack/up.sh —
 * the command a user runs — unless it is already running; see test/e2e/global-setup.mjs).
 * @type {import('jest').Config}
 */
const common = {
  testEnvironment: 'node',
  // Stryker's sandbox (npm run test:mutation) is a copy of the repository: not a second package here.
  modulePathIgnorePatterns: ['<rootDir>/.stryker-tmp/'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
};

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/**/*.test.ts'], testPathIgnorePatterns: ['<rootDir>/test/e2e/'] },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/e2e/global-setup.mjs',
      globalTeardown: '<rootDir>/test/e2e/global-teardown.mjs',
    },
  ],
  testTimeout: 20_000,
};
