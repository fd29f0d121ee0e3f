/**
 * The fault-injection suite (issue 7): `npm run test:faults` (full) and `npm run test:faults:short`
 * (FAULTS_SHORT=1: shorter faults, fewer modifications; the CI variant). Kept out of `npm test`
 * (jest.config.js ignores /tests/faults/) because each scenario runs for minutes.
 * tests/faults/infra-restarts.test.ts stops and restarts the shared Kafka broker, Postgres and
 * Kafka Connect, so the suite runs in band and after every other test (npm test comes first in CI).
 */
const base = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  roots: ['<rootDir>/tests/faults'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 15 * 60 * 1000,
};
