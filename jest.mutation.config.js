/**
 * The `unit` Jest project alone, for mutation testing (stryker.config.mjs): Stryker's Jest runner
 * takes one configuration, not a project selection. test/main.test.ts and test/compose.test.ts
 * and test/scripts/ (fuzz, abuse) are left out: they run the built dist/ and the nginx binary, which a mutant of src/ does not change.
 * @type {import('jest').Config}
 */
import base from './jest.config.js';

const unit = base.projects.find((project) => project.displayName === 'unit');

export default {
  ...unit,
  testTimeout: base.testTimeout,
  testPathIgnorePatterns: [
    ...unit.testPathIgnorePatterns,
    '<rootDir>/test/main.test.ts',
    '<rootDir>/test/compose.test.ts',
    '<rootDir>/test/scripts/',
  ],
};
