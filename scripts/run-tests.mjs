// Runs every vitest project from the root and ends with the plain line CI reads: "N passed, N failed".
// vitest's own summary ("Tests 3 passed | 1 skipped") is not a recognised closing line, so we count from its
// JSON report. Exit code: vitest's (non-zero when any test failed or no test file was found).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';

const report = '.vitest-results.json';
rmSync(report, { force: true });
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${report}`, ...process.argv.slice(2)];
const run = spawnSync('npx', args, { stdio: 'inherit' });

let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(report)) {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  passed = json.numPassedTests ?? 0;
  failed = (json.numFailedTests ?? 0) + countFilesFailedWithoutFailedTests(json);
  skipped = (json.numPendingTests ?? 0) + (json.numTodoTests ?? 0);
} else {
  failed = 1; // vitest died before writing a report: count that as a failure, never as green
}
const status = run.status ?? 1;
if (status !== 0 && failed === 0) failed = 1;
// Skipped tests (GPU suites without a GPU, data-dependent suites without ../shared/data) each print their
// reason; their count goes on its own line so that the closing line is exactly "N passed, N failed".
console.log(`${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(status);

// A test file that failed to load (import error, crash) has no failed tests but must count as a failure; a file
// whose tests failed is already counted through them. (vitest's numFailedTestSuites counts describe blocks.)
function countFilesFailedWithoutFailedTests(json) {
  return (json.testResults ?? []).filter(
    (f) => f.status === 'failed' && !(f.assertionResults ?? []).some((t) => t.status === 'failed'),
  ).length;
}
