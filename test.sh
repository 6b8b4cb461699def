#!/usr/bin/env bash
# Runs the whole test suite and ends with one plain line: "N passed, N failed".
# Needs only the .NET 10 SDK; the system packages the tests use are installed when missing.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$root"
# A fresh machine lacks what some tests drive (promtool, node/npm): install the missing ones first,
# as CI does. Idempotent and quiet when everything is there.
if ! bash .ci/install-deps.sh; then
  echo "installing test dependencies failed (see .ci/install-deps.sh)"
  echo "0 passed, 1 failed"
  exit 1
fi
FLYWHEEL_TEST_ASSETS=$(bash build/fetch-test-assets.sh) || { echo "0 passed, 1 failed"; exit 1; }
export FLYWHEEL_TEST_ASSETS
mkdir -p artifacts
log=artifacts/test.log   # kept for reading failures after the run
dotnet build Flywheel.sln -c Release -nologo -v quiet -clp:ErrorsOnly 2>&1 | tee "$log"
build_rc=${PIPESTATUS[0]}
if [ "$build_rc" -ne 0 ]; then echo "build failed"; echo "0 passed, 1 failed"; exit 1; fi
dotnet test Flywheel.sln -c Release --no-build -nologo "$@" 2>&1 | tee "$log"
test_rc=${PIPESTATUS[0]}
# Each test assembly prints "Passed!  - Failed: F, Passed: P, Skipped: S, Total: T, ...".
read -r passed failed skipped < <(grep -Eo 'Failed: +[0-9]+, Passed: +[0-9]+, Skipped: +[0-9]+' "$log" |
  awk -F'[:,]' '{f+=$2; p+=$4; s+=$6} END {print p+0, f+0, s+0}')
if [ "$test_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$test_rc" -eq 0 ]
