/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  // Type checking runs once in `npm run typecheck`; ts-jest only transpiles (isolatedModules) so suites start fast.
  transform: { '^.+\\.tsx?$': ['ts-jest', { isolatedModules: true, diagnostics: false }] },
  testTimeout: 60000,
  // bench/ holds benchmarks (npm run bench), never pass/fail tests.
  reporters: ['default', '<rootDir>/tests/support/summary-reporter.js'],
  testPathIgnorePatterns: ['/node_modules/', '/tests/bench/', '/tests/faults/'],
};
