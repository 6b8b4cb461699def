#!/usr/bin/env bash
# System packages the tests use. Idempotent; installs only what is missing.
#   npm/node: fetches ONNX Runtime (onnxruntime-node) and runs the reference tokenizer/templates
#   promtool (Debian package prometheus): checks the /metrics exposition format
set -euo pipefail
need=()
command -v dotnet >/dev/null || { echo "error: the .NET 10 SDK is required" >&2; exit 1; }
command -v npm >/dev/null || need+=(nodejs npm)
command -v flock >/dev/null || need+=(util-linux)
command -v promtool >/dev/null || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
