#!/usr/bin/env bash
# Phones: static aarch64 executables, pocketllm (the CLI, without serve/pull: no
# network in this build) and examples/c/chat.c (as example_chat), with Debian's
# cross compiler. A fully static glibc binary needs no library on the phone, so it
# runs from `adb shell` on Android (README "On a phone"). No Android NDK here: an
# Android .so for apps is not built.
#   bash scripts/build-android.sh [EXTRA_TARGET...]
# Output: $ANDROID_BUILD_DIR (default build-android)/apps/pocketllm and examples/example_chat.
# EXTRA_TARGETs (e.g. test_kernels, which .ci/aarch64.sh runs under qemu) turn the tests on.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${ANDROID_BUILD_DIR:-$root/build-android}

# The cross toolchain, qemu, and the arm64 -dev packages (static archives included).
if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null ||
   [[ ! -e /usr/lib/aarch64-linux-gnu/libgtest.a || ! -e /usr/lib/aarch64-linux-gnu/libedit.a ||
      ! -e /usr/lib/aarch64-linux-gnu/libpcre2-8.a || ! -e /usr/lib/aarch64-linux-gnu/libutf8proc.a ]]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user \
    libgtest-dev:arm64 libgmock-dev:arm64 libfmt-dev:arm64 libpcre2-dev:arm64 libutf8proc-dev:arm64 libedit-dev:arm64
fi

tests=OFF
[ $# -gt 0 ] && tests=ON
# -U: libraries pkg-config found for an earlier, dynamic configuration of this folder are found again (as .a).
cmake -S "$root" -B "$build" -G Ninja -U 'pkgcfg_lib_*' -DCMAKE_BUILD_TYPE=Release -DCMAKE_UNITY_BUILD=ON -DPOCKETLLM_BUILD_TESTS=$tests \
  -DPOCKETLLM_STATIC_EXECUTABLES=ON -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-aarch64.cmake" >/dev/null
ninja -C "$build" -j"${JOBS:-$(nproc)}" pocketllm example_chat "$@"

for exe in "$build/apps/pocketllm" "$build/examples/example_chat"; do
  if ! file "$exe" | grep -qE "ARM aarch64.*(statically|static-pie) linked"; then
    echo "FAIL: $exe is not a static aarch64 executable: $(file -b "$exe")" >&2
    exit 1
  fi
done
echo "static aarch64 executables:"
ls -l "$build/apps/pocketllm" "$build/examples/example_chat"
