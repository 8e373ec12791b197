#!/usr/bin/env bash
# Cross-builds pocketllm's kernel libraries and test_kernels for aarch64 with
# Debian's cross compiler and runs them under qemu-aarch64 -cpu max, once per
# ARM kernel table (POCKETLLM_ISA=neon, dotprod, i8mm), plus a check that a
# table the emulated CPU lacks is refused. Usage: bash .ci/aarch64.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${AARCH64_BUILD_DIR:-$root/build-aarch64}

# Toolchain and arm64 -dev packages of the dependencies (installed once).
if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null ||
   [[ ! -e /usr/lib/aarch64-linux-gnu/libgtest.a || ! -e /usr/lib/aarch64-linux-gnu/pkgconfig/cpp-httplib.pc || ! -e /usr/lib/aarch64-linux-gnu/pkgconfig/libedit.pc ]]; then
  dpkg --add-architecture arm64
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user \
    libgtest-dev:arm64 libgmock-dev:arm64 libfmt-dev:arm64 libpcre2-dev:arm64 libutf8proc-dev:arm64 libcpp-httplib-dev:arm64 libedit-dev:arm64
fi

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOCKETLLM_BUILD_TESTS=ON \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-aarch64.cmake" >/dev/null
ninja -C "$build" -j"${JOBS:-1}" test_kernels

run() { qemu-aarch64 -L /usr/aarch64-linux-gnu "$@"; }
# qemu-aarch64 7.2 here hangs when the guest creates a thread: tests stay single-threaded.
export POCKETLLM_TEST_MAX_THREADS=1
for isa in neon dotprod i8mm; do
  echo "== aarch64 test_kernels with POCKETLLM_ISA=$isa (qemu -cpu max)"
  POCKETLLM_ISA=$isa run -cpu max "$build/tests/test_kernels" --gtest_brief=1
done
# A Cortex-A53 has neither dotprod nor i8mm: forcing them must be an error, not a crash.
echo "== POCKETLLM_ISA=i8mm on a CPU without it must be refused"
if POCKETLLM_ISA=i8mm run -cpu cortex-a53 "$build/tests/test_kernels" --gtest_filter='Dispatch.*' >/dev/null 2>&1; then
  echo "FAIL: i8mm was accepted on cortex-a53" >&2
  exit 1
fi
POCKETLLM_ISA=neon run -cpu cortex-a53 "$build/tests/test_kernels" --gtest_brief=1
echo "aarch64 kernel tests passed"
