/**
 * Prints one plain closing line, "tests: N passed, N failed, N skipped", that any CI can read
 * (jest's own summary is formatted differently).
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failedSuites = results.numFailedTestSuites;
    process.stdout.write(
      `\ntests: ${results.numPassedTests} passed, ${results.numFailedTests + (failedSuites > 0 && results.numFailedTests === 0 ? failedSuites : 0)} failed, ${skipped} skipped\n`,
    );
  }
}
module.exports = SummaryReporter;
