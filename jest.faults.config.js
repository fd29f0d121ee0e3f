/**
 * The fault-injection suite (issue 7): `npm run test:faults` (full) and `npm run test:faults:short`
 * (FAULTS_SHORT=1: shorter faults, fewer modifications; the CI variant). Kept out of `npm test`
 * (jest.config.js ignores /tests/faults/) because each scenario runs for minutes.
 * tests/faults/infra-restarts.test.ts (if present) stops shared services and is skipped when FAULTS_SHORT=1.
 */
const base = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  roots: ['<rootDir>/tests/faults'],
  testPathIgnorePatterns: ['/node_modules/', ...(process.env.FAULTS_SHORT === '1' ? ['/tests/faults/infra-restarts'] : [])],
  testTimeout: 15 * 60 * 1000,
};
