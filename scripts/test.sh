#!/usr/bin/env bash
# Builds pocketllm and runs the whole test suite (ctest prints the summary).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
