#!/usr/bin/env bash
# Fetches libonnxruntime.so.1 (ONNX Runtime 1.30.0, linux-x64, CPU) from the npm package
# onnxruntime-node@1.30.0 into a cache outside the repository, once. Prints the library's path.
# Safe to run from several builds at once: the download and extraction happen under a lock and
# the library appears in the cache by an atomic rename.
set -euo pipefail

version=1.30.0
sha256=6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75
cache_root=${FLYWHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flywheel}
dir=$cache_root/onnxruntime-$version
lib=$dir/libonnxruntime.so.1

if [ -f "$lib" ]; then echo "$lib"; exit 0; fi

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ -f "$lib" ]; then echo "$lib"; exit 0; fi

if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm is needed to fetch ONNX Runtime $version (npm package onnxruntime-node@$version); install Node.js and npm, or put libonnxruntime.so.1 at $lib" >&2
  exit 1
fi

work=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "fetching onnxruntime-node@$version with npm pack (once; cached in $dir)" >&2
if ! (cd "$work" && npm pack --silent "onnxruntime-node@$version" >/dev/null 2>"$work/npm.err"); then
  echo "error: 'npm pack onnxruntime-node@$version' failed; is the npm registry reachable?" >&2
  sed 's/^/  npm: /' "$work/npm.err" >&2 || true
  exit 1
fi
tgz=$work/onnxruntime-node-$version.tgz
actual=$(sha256sum "$tgz" | cut -d' ' -f1)
if [ "$actual" != "$sha256" ]; then
  echo "error: checksum mismatch for onnxruntime-node-$version.tgz: expected $sha256, got $actual" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$work" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
mv "$work/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$work/libonnxruntime.so.1"
mv -f "$work/libonnxruntime.so.1" "$lib"
echo "$lib"
