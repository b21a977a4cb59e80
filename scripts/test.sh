#!/usr/bin/env bash
# Sets up what the tests need on this machine (Node dependencies, the web app's build,
# a Chromium for the browser tests, a Docker engine, the sandbox images), then runs
# every test: type-checking, lint, and the unit, contract, integration and e2e
# (browser) suites (vitest). Ends with one summary line: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup/node-deps.sh
bash scripts/setup/web-build.sh
bash scripts/setup/browser.sh
bash scripts/setup/all.sh

mkdir -p test-output
status=0
static_failed=0
echo "[test] type-check and lint"
npx tsc --noEmit -p tsconfig.json &
tsc_pid=$!
npx eslint --max-warnings=0 . &
lint_pid=$!
wait "$tsc_pid" || { echo "[test] type-check failed"; status=1; static_failed=$((static_failed + 1)); }
wait "$lint_pid" || { echo "[test] lint failed"; status=1; static_failed=$((static_failed + 1)); }

echo "[test] unit, contract, integration, adversarial and e2e suites"
npx vitest run --reporter=default --reporter=./test/adversarial/table-reporter.ts --reporter=json --outputFile.json=test-output/vitest.json "$@" || status=1

# One closing line a CI reader understands, from vitest's own JSON report; a failed
# type-check or lint counts as a failed test.
STATIC_FAILED=$static_failed node -e '
  const r = JSON.parse(require("fs").readFileSync("test-output/vitest.json", "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  const failed = r.numFailedTests + Number(process.env.STATIC_FAILED);
  console.log(`tests: ${r.numPassedTests} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
' || { echo "[test] no test report was written"; status=1; }
[ "$status" -eq 0 ] && echo "[test] all green" || echo "[test] FAILED"
exit "$status"
