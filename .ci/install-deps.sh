#!/usr/bin/env bash
# System packages the tests use. Idempotent; installs only what is missing, so test.sh runs it first
# and .ci/run calling it again costs nothing.
#   npm/node: the test assets (reference tokenizers and templates, the openai client); not needed to serve
#   promtool and prometheus (Debian package prometheus): check /metrics and run the dashboard test
set -euo pipefail
need=()
command -v dotnet >/dev/null || { echo "error: the .NET 10 SDK is required" >&2; exit 1; }
command -v npm >/dev/null || need+=(nodejs npm)
command -v flock >/dev/null || need+=(util-linux)
{ command -v promtool >/dev/null && command -v prometheus >/dev/null; } || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: installing ${need[*]} needs root (or sudo); install them and rerun" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
