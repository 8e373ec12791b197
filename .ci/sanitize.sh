#!/usr/bin/env bash
# Sanitizer stages of CI (called from .ci/run), in their own build directories:
#  1. ASan+UBSan (GCC, -DPOCKETLLM_SANITIZE=address,undefined): the suites of the modules
#     that read untrusted bytes or index memory directly (ctest labels below).
#  2. TSan (-DPOCKETLLM_SANITIZE=thread): the multi-threaded kernel tests (2-thread
#     linear, thread pool).
# Budget ~10-12 min on 2 cores; SANITIZE_LABELS / TSAN_LABELS override the subsets.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${SANITIZE_JOBS:-$(nproc)}
asan_labels=${SANITIZE_LABELS:-formats tokenizer chat kernels}
tsan_labels=${TSAN_LABELS:-kernels}
# Timing tests measure speed, which a sanitizer build does not have.
exclude=${SANITIZE_EXCLUDE:-Speed|Bench}
start=$(date +%s)
say() { echo "--- [$(( $(date +%s) - start ))s] $*"; }

run_stage() {  # name sanitize-list labels...
  local dir=build-$1 san=$2; shift 2
  local targets=() regex
  for l in "$@"; do targets+=("test_$l"); done
  regex=$(IFS='|'; echo "^($*)\$")
  say "$dir: configure + build ${targets[*]}"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOCKETLLM_SANITIZE="$san" >/dev/null
  ninja -C "$dir" -j"$jobs" "${targets[@]}"
  say "$dir: ctest -L '$regex'"
  ctest --test-dir "$dir" -L "$regex" -E "$exclude" --output-on-failure -j"$jobs" --timeout 600
}

# halt_on_error: any report fails the test (GCC's UBSan recovers by default).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# shellcheck disable=SC2086
run_stage asan address,undefined $asan_labels

export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
# shellcheck disable=SC2086
run_stage tsan thread $tsan_labels
say "sanitizer stages passed"
