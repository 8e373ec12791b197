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
   [[ ! -e /usr/lib/aarch64-linux-gnu/libgtest.a || ! -e /usr/lib/aarch64-linux-gnu/pkgconfig/cpp-httplib.pc || ! -e /usr/lib/aarch64-linux-gnu/pkgconfig/libedit.pc ||
      ! -e /usr/lib/aarch64-linux-gnu/pkgconfig/openssl.pc ]]; then
  dpkg --add-architecture arm64
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user \
    libgtest-dev:arm64 libgmock-dev:arm64 libfmt-dev:arm64 libpcre2-dev:arm64 libutf8proc-dev:arm64 libcpp-httplib-dev:arm64 libedit-dev:arm64 libssl-dev:arm64
fi

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOCKETLLM_BUILD_TESTS=ON \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-aarch64.cmake" >/dev/null
ninja -C "$build" -j"${JOBS:-$(nproc)}" test_kernels pocketllm

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

# stories260K end to end on ARM: FP32 greedy output equals llama2.c's golden stdout, and the
# W4A8 (quantized natively) greedy output is the same on every ARM table as on this machine.
native=${NATIVE_BIN:-$root/build/apps/pocketllm}
shared=$(cd "$root/.." && pwd)/shared/data/models/stories260K
if [[ -x "$native" && -f "$shared/stories260K.bin" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  /usr/bin/python3 - "$shared/golden.json" "$tmp" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
for i, c in enumerate(g["cases"]):
    open(f"{sys.argv[2]}/case{i}.prompt", "w").write(c["prompt"])
    open(f"{sys.argv[2]}/case{i}.n", "w").write(str(len(c["generated_ids"])))
    # pocketllm run's stdout is the text alone: run.c's stdout without the newline run.c adds.
    want = c["run_c_cli_stdout"]
    assert want.endswith("\n"), "run.c's stdout ends with its newline"
    open(f"{sys.argv[2]}/case{i}.want", "w").write(want[:-1])
PY
  "$native" quantize "$shared/stories260K.bin" "$tmp/w4a8.gguf" --tokenizer "$shared/tok512.bin" --scheme w4a8 --group 32 2>/dev/null
  "$native" run -m "$tmp/w4a8.gguf" -p "Once upon a time" -n 40 --temp 0 -t 1 > "$tmp/w4a8.want" 2>/dev/null
  for isa in neon dotprod i8mm; do
    for want in "$tmp"/case*.want; do
      c=${want%.want}
      POCKETLLM_ISA=$isa run -cpu max "$build/apps/pocketllm" run -m "$shared/stories260K.bin" --tokenizer "$shared/tok512.bin" \
        -p "$(cat "$c.prompt")" -n "$(cat "$c.n")" --temp 0 -t 1 > "$c.got" 2>/dev/null
      cmp -s "$want" "$c.got" || { echo "FAIL: aarch64 $isa FP32 golden output differs for $c" >&2; exit 1; }
    done
    POCKETLLM_ISA=$isa run -cpu max "$build/apps/pocketllm" run -m "$tmp/w4a8.gguf" -p "Once upon a time" -n 40 --temp 0 -t 1 \
      > "$tmp/w4a8.got" 2>/dev/null
    cmp -s "$tmp/w4a8.want" "$tmp/w4a8.got" || { echo "FAIL: aarch64 $isa W4A8 output differs from x86" >&2; exit 1; }
    echo "== aarch64 $isa: stories260K FP32 golden stdout and W4A8 greedy output match"
  done
else
  echo "skipping the aarch64 end-to-end check: build the native binary first ($native)"
fi
