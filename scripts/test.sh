#!/usr/bin/env bash
# Builds pocketllm and runs the whole test suite (ctest prints the summary).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
# Tests that use PyPI packages (the openai client, gguf, ...) run them from this venv.
POCKETLLM_PYTHON=$(bash scripts/venv.sh)
export POCKETLLM_PYTHON
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
