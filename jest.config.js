/**
 * jose v6 and openid-client v6 are ESM-only, so the project is ESM end to end:
 * ts-jest compiles to ESM and jest runs with --experimental-vm-modules (see package.json).
 * @type {import('jest').Config}
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // Integration suites start real servers; they opt in with their own timeouts.
  testTimeout: 20_000,
};
