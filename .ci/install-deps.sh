#!/usr/bin/env bash
# System packages the tests use. Idempotent; skips what is already installed.
set -euo pipefail
need=()
command -v dotnet >/dev/null || { echo "error: the .NET 10 SDK is required" >&2; exit 1; }
command -v npm >/dev/null || need+=(nodejs npm)
command -v flock >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
