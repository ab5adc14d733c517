/**
 * The `unit` Jest project alone, for mutation testing (stryker.config.mjs): Stryker's Jest runner
 * takes one configuration, not a project selection. `MUTATION_TESTS` (comma-separated paths or globs
 * under the repository root, set by `npm run test:mutation -- --tests ...`) narrows it to the unit tests
 * of the file being mutated: a focused run, much faster on a busy machine, whose score is a lower
 * bound (a mutant only other tests would kill counts as surviving). test/main.test.ts and test/compose.test.ts
 * and test/scripts/ (fuzz, abuse) are left out: they run the built dist/ and the nginx binary, which a mutant of src/ does not change.
 * @type {import('jest').Config}
 */
import base from './jest.config.js';

const unit = base.projects.find((project) => project.displayName === 'unit');

const focused = (process.env.MUTATION_TESTS ?? '')
  .split(',')
  .map((glob) => glob.trim())
  .filter((glob) => glob !== '');

export default {
  ...unit,
  ...(focused.length > 0 ? { testMatch: focused.map((glob) => `<rootDir>/${glob}`) } : {}),
  testTimeout: base.testTimeout,
  testPathIgnorePatterns: [
    ...unit.testPathIgnorePatterns,
    '<rootDir>/test/main.test.ts',
    '<rootDir>/test/compose.test.ts',
    '<rootDir>/test/scripts/',
  ],
};
