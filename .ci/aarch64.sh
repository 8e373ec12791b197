#!/usr/bin/env bash
# Cross-builds pocketllm's kernel libraries and test_kernels for aarch64 with
# Debian's cross compiler and runs them under qemu-aarch64 -cpu max, once per
# ARM kernel table (POCKETLLM_ISA=neon, dotprod, i8mm), plus a check that a
# table the emulated CPU lacks is refused; then the static phone executables
# (the CLI and examples/c/chat.c) reproduce stories260K's golden output.
# Usage: bash .ci/aarch64.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${AARCH64_BUILD_DIR:-$root/build-aarch64}

# The phone build (scripts/build-android.sh: static executables, the toolchain and the
# arm64 packages installed once) with test_kernels as well: one cross build serves the
# kernel tests, the CLI and the C example.
ANDROID_BUILD_DIR=$build bash "$root/scripts/build-android.sh" test_kernels

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
  /usr/bin/python3 "$root/.ci/golden-cases.py" "$shared/golden.json" "$tmp"
  "$native" quantize "$shared/stories260K.bin" "$tmp/w4a8.gguf" --tokenizer "$shared/tok512.bin" --scheme w4a8 --group 32 2>/dev/null
  "$native" run -m "$tmp/w4a8.gguf" -p "Once upon a time" -n 40 --temp 0 -t 1 > "$tmp/w4a8.want" 2>/dev/null
  for isa in neon dotprod i8mm; do
    for want in "$tmp"/case*.want; do
      c=${want%.want}
      POCKETLLM_ISA=$isa run -cpu max "$build/apps/pocketllm" run -m "$shared/stories260K.bin" --tokenizer "$shared/tok512.bin" \
        -p "$(cat "$c.prompt")" -n "$(cat "$c.n")" --temp 0 -t 1 > "$c.got" 2>/dev/null
      # `run` prints the model's text alone: run.c's stdout without its closing newline.
      cmp -s "$c.text" "$c.got" || { echo "FAIL: aarch64 $isa FP32 golden output differs for $c" >&2; exit 1; }
    done
    POCKETLLM_ISA=$isa run -cpu max "$build/apps/pocketllm" run -m "$tmp/w4a8.gguf" -p "Once upon a time" -n 40 --temp 0 -t 1 \
      > "$tmp/w4a8.got" 2>/dev/null
    cmp -s "$tmp/w4a8.want" "$tmp/w4a8.got" || { echo "FAIL: aarch64 $isa W4A8 output differs from x86" >&2; exit 1; }
    echo "== aarch64 $isa: stories260K FP32 golden stdout and W4A8 greedy output match"
  done
  # The C example of the phone build (static, through the C API): golden output too.
  for want in "$tmp"/case*.want; do
    c=${want%.want}
    run -cpu max "$build/examples/example_chat" -m "$shared/stories260K.bin" --tokenizer "$shared/tok512.bin" \
      -p "$(cat "$c.prompt")" -n "$(cat "$c.n")" --temp 0 -t 1 > "$c.got" 2>/dev/null
    cmp -s "$want" "$c.got" || { echo "FAIL: aarch64 example_chat golden output differs for $c" >&2; exit 1; }
  done
  echo "== aarch64 static example_chat (C API): stories260K golden stdout matches"
else
  echo "skipping the aarch64 end-to-end check: build the native binary first ($native)"
fi
