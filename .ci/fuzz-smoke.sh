#!/usr/bin/env bash
# CI fuzz smoke: builds the libFuzzer harnesses with clang (ASan+UBSan) and runs each
# for FUZZ_SMOKE_SECONDS (default 15) from the seed corpora, one per core; fails on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1; then
  apt-get update -q >/dev/null; apt-get install -y -q clang libclang-rt-14-dev >/dev/null
fi
# A fresh corpus each run keeps CI results independent of earlier runs.
export FUZZ_BUILD=${FUZZ_BUILD:-$PWD/build-fuzz-ci}
rm -rf "$FUZZ_BUILD/corpus" "$FUZZ_BUILD/findings"
FUZZ_JOBS=${FUZZ_JOBS:-$(nproc)} FUZZ_PARALLEL=${FUZZ_PARALLEL:-$(nproc)} bash fuzz/run.sh "${FUZZ_SMOKE_SECONDS:-15}"
