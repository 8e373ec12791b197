#!/usr/bin/env bash
# Sanitizer stages of CI (called from .ci/run):
#  1. ASan+UBSan: the whole suites of the modules that read untrusted bytes or index
#     memory directly (ctest labels below), built with clang against the fuzz build's
#     libraries (fuzz/CMakeLists.txt, -DPOCKETLLM_FUZZ_TESTS=ON). .ci/fuzz-smoke.sh then
#     reuses the same build directory, so CI compiles the sanitized libraries once.
#     UBSan does not recover there: any report fails the test.
#  2. TSan (GCC, -DPOCKETLLM_SANITIZE=thread, its own build directory): the threaded
#     tests - the thread pool, the 2-thread kernels, the server's concurrency and
#     hostile-client tests (its event loop hands connections to worker threads) and the
#     C API's busy/cancel/free-while-generating tests
#     (the server binary is built with TSan too: the whole project, ~10 min on 2 cores;
#     TSAN_LABELS="core kernels" skips it).
# Budget ~15 min on 2 cores. Overrides: SANITIZE_LABELS, TSAN_LABELS, TSAN_TESTS (ctest -R),
# SANITIZE_EXCLUDE (ctest -E), SANITIZE_JOBS, FUZZ_BUILD (stage 1's directory).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${SANITIZE_JOBS:-$(nproc)}
asan_labels=${SANITIZE_LABELS:-core formats tokenizer chat kernels capi}
tsan_labels=${TSAN_LABELS:-core kernels server capi}
tsan_tests=${TSAN_TESTS:-ThreadPool|ThreadsDoNotChangeResults|SharedInput|Concurrency|FullQueueIs503|Disconnect|Scheduler|Hostile|HttpParser|CapiThreads}
asan_build=${FUZZ_BUILD:-$PWD/build-fuzz-ci}
# Timing tests measure speed, which a sanitizer build does not have; gpt-2's long-run
# tokenizer case alone takes ~5 min under ASan with coverage counters (~5 s for the others).
exclude=${SANITIZE_EXCLUDE:-Speed|Bench|LongRunsOfOneCharClass/ggml_vocab_gpt_2}
start=$(date +%s)
say() { echo "--- [$(( $(date +%s) - start ))s] $*"; }
label_regex() { (IFS='|'; echo "^($*)\$"); }
targets_of() { for l in "$@"; do echo "test_$l"; done; }

if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1; then
  apt-get update -q >/dev/null; apt-get install -y -q clang libclang-rt-14-dev >/dev/null
fi

# shellcheck disable=SC2086
{
  say "ASan+UBSan (clang): configure + build $(targets_of $asan_labels | tr '\n' ' ')in $asan_build"
  CC=clang CXX=clang++ cmake -S fuzz -B "$asan_build" -G Ninja -DCMAKE_UNITY_BUILD=ON -DPOCKETLLM_FUZZ_TESTS=ON >/dev/null
  ninja -C "$asan_build" -j"$jobs" $(targets_of $asan_labels)
  say "ASan+UBSan: ctest -L '$(label_regex $asan_labels)'"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$asan_build" -L "$(label_regex $asan_labels)" -E "$exclude" --output-on-failure \
      -j"$jobs" --timeout 900

  say "TSan (gcc): configure + build $(targets_of $tsan_labels | tr '\n' ' ')in build-tsan"
  cmake -S . -B build-tsan -G Ninja -DCMAKE_UNITY_BUILD=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOCKETLLM_SANITIZE=thread \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1" >/dev/null
  ninja -C build-tsan -j"$jobs" $(targets_of $tsan_labels)
  say "TSan: ctest -L '$(label_regex $tsan_labels)' -R '$tsan_tests'"
  # Kernel tests use at most 2 threads (POCKETLLM_TEST_MAX_THREADS).
  # .ci/tsan.supp: races TSan reports inside Debian's uninstrumented cpp-httplib. The
  # hang-up test is timing-bound (it races a 2,000-token answer), too slow under TSan.
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/.ci/tsan.supp POCKETLLM_TEST_MAX_THREADS=2 \
    ctest --test-dir build-tsan -L "$(label_regex $tsan_labels)" -R "$tsan_tests" \
      -E "$exclude|NonStreamedClientThatHangsUp" \
      --output-on-failure -j"$jobs" --timeout 900
}
say "sanitizer stages passed"
