#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan+UBSan) and runs each for SECONDS
# (default 60), FUZZ_PARALLEL at a time; prints executions and findings per harness.
#   fuzz/run.sh [SECONDS] [HARNESS...]     e.g. fuzz/run.sh 600 gguf jinja
# Env: FUZZ_BUILD (build dir, default build-fuzz), FUZZ_JOBS (ninja -j, default 1), FUZZ_NO_BUILD=1 (skip ninja),
#      FUZZ_PARALLEL (harnesses run at once, default 1),
#      POCKETLLM_SHARED (shared folder, default ../shared next to the repo).
# Corpora grow in $FUZZ_BUILD/corpus/<harness>; crashes land in $FUZZ_BUILD/findings/<harness>.
# Exit status: 1 when any harness left a finding.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
build=${FUZZ_BUILD:-$root/build-fuzz}
shared=${POCKETLLM_SHARED:-$root/../shared}
all=(gguf safetensors llama2c hf_config tokenizer_json tokenize spm_model jinja grammar server_request hub_answers json_depth http_request capi_text)
harnesses=("${@:-${all[@]}}")

max_len() {  # inputs beyond these sizes only slow the search down
  case $1 in
    gguf|llama2c) echo 65536 ;;
    tokenizer_json|jinja) echo 16384 ;;
    *) echo 8192 ;;
  esac
}

if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S "$root/fuzz" -B "$build" -G Ninja -DCMAKE_UNITY_BUILD=ON >/dev/null || exit 2
fi
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
if [ -z "${FUZZ_NO_BUILD:-}" ]; then
  ninja -C "$build" -j"${FUZZ_JOBS:-1}" "${targets[@]}" >/dev/null || { echo "build failed"; exit 2; }
fi

seeds=$build/seeds
rm -rf "$seeds"
/usr/bin/python3 "$root/fuzz/seeds/make_seeds.py" "$seeds" "$shared/data" || exit 2

# One harness: its run's figures go to $build/logs/<harness>.result as
# "harness seconds executions exec/s findings rc".
run_one() {
  local h=$1 corpus=$build/corpus/$1 findings=$build/findings/$1 log=$build/logs/$1.log start rc took runs speed found
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"
  start=$(date +%s)
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  POCKETLLM_SHARED=$shared \
    "$build/fuzz_$h" "$corpus" "$seeds/$h" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 \
      -max_len="$(max_len "$h")" -artifact_prefix="$findings/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  found=$(find "$findings" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  echo "$h $took ${runs:-?} ${speed:-?} $found $rc" >"$build/logs/$h.result"
}

# FUZZ_PARALLEL harnesses at a time (default 1): each libFuzzer process uses one core.
parallel=${FUZZ_PARALLEL:-1}
for h in "${harnesses[@]}"; do
  rm -f "$build/logs/$h.result"
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n; done
  run_one "$h" &
done
wait

status=0
printf '%-16s %8s %12s %10s %s\n' harness seconds executions exec/s findings
for h in "${harnesses[@]}"; do
  read -r _ took runs speed found rc <"$build/logs/$h.result" || { took=? runs=? speed=? found=? rc=1; }
  printf '%-16s %8s %12s %10s %s\n' "$h" "$took" "$runs" "$speed" "$found"
  if [ "$rc" != 0 ] || [ "$found" != 0 ]; then
    status=1
    grep -m3 -E 'ERROR: |SUMMARY: |runtime error' "$build/logs/$h.log" | sed 's/^/    /'
    echo "    log: $build/logs/$h.log; inputs: $build/findings/$h"
  fi
done
exit $status
