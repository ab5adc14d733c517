/**
 * Mutation testing of the security core (issue 16): Stryker changes one small thing at a time in
 * the code that decides allow/deny, identity or a login, then runs the unit tests that cover it;
 * a mutant that no test notices ("survived") marks a check nothing guards.
 *
 * The project is ESM (jose/openid-client v6), so Jest runs with --experimental-vm-modules, here as
 * in package.json. Only the `unit` Jest project runs (jest.mutation.config.js; the e2e project needs the real stack).
 * `npm run test:mutation` runs it and prints the score per folder (scripts/mutation-report.mjs);
 * `npm run test:mutation -- --mutate 'src/tokens/**\/*.ts'` narrows it. See docs/mutation.md.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  packageManager: 'npm',
  testRunner: 'jest',
  testRunnerNodeArgs: ['--experimental-vm-modules', '--no-warnings=ExperimentalWarning'],
  jest: { projectType: 'custom', configFile: 'jest.mutation.config.js', enableFindRelatedTests: true },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: [
    'src/request/**/*.ts',
    'src/routes/**/*.ts',
    'src/tokens/**/*.ts',
    'src/decide/**/*.ts',
    'src/login/**/*.ts',
    'src/session/**/*.ts',
    'src/basic/**/*.ts',
    'src/policy/**/*.ts',
    'src/auth/**/*.ts',
  ],
  coverageAnalysis: 'perTest',
  // Two cores shared with other work. A mutant that makes a test hang (a loop that never ends, a
  // promise never settled) is cut after the test's own time x 1.5 + 5 s and counts as detected.
  concurrency: 2,
  timeoutMS: 5_000,
  // The initial run of the covering tests, on a loaded machine, takes minutes (Stryker's default: 5).
  dryRunTimeoutMinutes: 30,
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  thresholds: { high: 90, low: 85, break: null },
  // Never copy the e2e stack's data, builds or earlier reports into the sandbox.
  ignorePatterns: ['.stack', 'dist', 'reports', 'test-artifacts'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
