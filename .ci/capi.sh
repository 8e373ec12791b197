#!/usr/bin/env bash
# CI stage for apps that embed pocketllm (called from .ci/run after scripts/test.sh built
# ./build): installs the build to a temporary prefix and uses it as an app would.
#  1. the installed libpocketllm.so exports only pllm_* symbols;
#  2. examples/c/chat.c built with `cc` and pkg-config against the prefix reproduces
#     llama2.c's golden stories260K output (every case of golden.json);
#  3. a CMake project using find_package(pocketllm) links it shared and static;
#  4. `pip install --no-index bindings/python` into a fresh venv (offline, no
#     dependencies) finds the library through the system loader, and the binding's
#     pytest suite passes against the installed package and library.
# Usage: bash .ci/capi.sh   (BUILD_DIR overrides ./build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
shared=${POCKETLLM_SHARED:-$(cd "$root/.." && pwd)/shared}
stories=$shared/data/models/stories260K
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
say() { echo "--- [$(( $(date +%s) - start ))s] $*"; }

say "cmake --install $build --prefix $tmp/prefix"
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name pocketllm.pc)
libdir=$(dirname "$(dirname "$pc")")
export PKG_CONFIG_PATH=$libdir/pkgconfig
for f in "$tmp/prefix/include/pocketllm.h" "$libdir/libpocketllm.so" "$libdir/libpocketllm.a" \
         "$libdir/cmake/pocketllm/pocketllmConfig.cmake" "$tmp/prefix/bin/pocketllm"; do
  [ -e "$f" ] || { echo "FAIL: not installed: $f" >&2; exit 1; }
done

say "exported symbols of the installed libpocketllm.so"
others=$(nm -D --defined-only "$libdir/libpocketllm.so" | awk '{print $3}' | grep -v '^pllm_' || true)
if [ -n "$others" ]; then echo "FAIL: exported besides pllm_*: $others" >&2; exit 1; fi
echo "$(nm -D --defined-only "$libdir/libpocketllm.so" | wc -l) symbols, all pllm_*"

say "examples/c/chat.c with cc and pkg-config (C99)"
# shellcheck disable=SC2046
cc -std=c99 -Wall -Wextra -Werror -O2 "$root/examples/c/chat.c" -o "$tmp/chat" \
  $(pkg-config --cflags --libs pocketllm) -Wl,-rpath,"$libdir"
/usr/bin/python3 "$root/.ci/golden-cases.py" "$stories/golden.json" "$tmp"
golden_check() {  # golden_check EXECUTABLE [RUNNER...]: every golden case, byte for byte
  local exe=$1 want c
  shift
  for want in "$tmp"/case*.want; do
    c=${want%.want}
    "$@" "$exe" -m "$stories/stories260K.bin" --tokenizer "$stories/tok512.bin" -p "$(cat "$c.prompt")" \
      -n "$(cat "$c.n")" --temp 0 -t 1 >"$c.got" 2>"$c.err" || { cat "$c.err" >&2; return 1; }
    cmp -s "$want" "$c.got" || { echo "FAIL: $exe: output differs from golden.json for $c" >&2; diff "$want" "$c.got" >&2; return 1; }
  done
}
golden_check "$tmp/chat"
echo "chat.c (shared library): stories260K greedy output equals llama2.c's for $(ls "$tmp"/case*.want | wc -l) prompts"
# Errors: a missing model is a message and exit status 1, not a crash.
if "$tmp/chat" -m "$tmp/none.bin" -p x 2>"$tmp/err"; then echo "FAIL: a missing model succeeded" >&2; exit 1; fi
grep -q "none.bin" "$tmp/err" || { echo "FAIL: the error does not name the file: $(cat "$tmp/err")" >&2; exit 1; }

say "find_package(pocketllm): shared and static"
mkdir -p "$tmp/app"
cat >"$tmp/app/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.25)
project(app C)
find_package(pocketllm 0.1 REQUIRED)
add_executable(chat_shared $root/examples/c/chat.c)
target_link_libraries(chat_shared PRIVATE pocketllm::pocketllm)
add_executable(chat_static $root/examples/c/chat.c)
target_link_libraries(chat_static PRIVATE pocketllm::pocketllm_static)
EOF
cmake -S "$tmp/app" -B "$tmp/app/build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
ninja -C "$tmp/app/build" >/dev/null
golden_check "$tmp/app/build/chat_shared"
golden_check "$tmp/app/build/chat_static"
if ldd "$tmp/app/build/chat_static" | grep -q libpocketllm; then echo "FAIL: chat_static links libpocketllm.so" >&2; exit 1; fi
echo "find_package: both link and reproduce the golden output"

say "Python: pip install --no-index bindings/python into a fresh venv"
/usr/bin/python3 -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --no-index --disable-pip-version-check "$root/bindings/python"
# The system loader finds the library (LD_LIBRARY_PATH here; ldconfig's cache after a system install).
LD_LIBRARY_PATH=$libdir "$tmp/venv/bin/python" - "$stories" <<'PY'
import json, sys, pocketllm
d = sys.argv[1]
case = json.load(open(f"{d}/golden.json"))["cases"][0]
m = pocketllm.Model(f"{d}/stories260K.bin", tokenizer=f"{d}/tok512.bin", threads=1)
s = pocketllm.Session(m)
s.append_text(case["prompt"])
text = "".join(s.stream(max_tokens=len(case["generated_ids"]), temperature=0, echo_prompt=True))
assert text + "\n" == case["run_c_cli_stdout"], text
print("installed package: golden output through the system loader")
PY

say "Python: the binding's pytest suite against the installed package and library"
py=$(bash "$root/scripts/venv.sh")
"$py" -m pip install -q --no-index --disable-pip-version-check --target "$tmp/site" "$root/bindings/python"
POCKETLLM_LIBRARY=$libdir/libpocketllm.so PYTHONPATH=$tmp/site POCKETLLM_SHARED=$shared \
  "$py" -m pytest -q -p no:cacheprovider "$root/bindings/python/tests"
say "C API stage passed"
