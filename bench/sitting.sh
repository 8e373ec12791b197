#!/usr/bin/env bash
# One benchmark sitting (README section 5): pocketllm bench and, if given,
# llama-bench alternate ROUNDS times per thread count; prints per test the
# median and range of t/s for each engine and pocketllm's decode roofline.
#   bench/sitting.sh [-r ROUNDS] [-t "1 2"] [-l LLAMA_BENCH LLAMA_MODEL] OURS_MODEL...
# llama.cpp is never built or shipped here: pass the path of your own llama-bench.
set -euo pipefail
ours=$(realpath "$(dirname "$0")/../build/apps/pocketllm")
rounds=5 threads="2 1" llama="" llama_model="" p=512 n=128
while getopts "r:t:l:p:n:" o; do
  case $o in
    r) rounds=$OPTARG ;; t) threads=$OPTARG ;; p) p=$OPTARG ;; n) n=$OPTARG ;;
    l) llama=$(realpath "$OPTARG"); llama_model=${!OPTIND}; OPTIND=$((OPTIND + 1)) ;;
    *) sed -n 2,6p "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[[ $# -ge 1 ]] || { sed -n 2,6p "$0"; exit 2; }
out=$(mktemp -d)
echo "sitting $(date -u +%FT%TZ), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg), out: $out"
for t in $threads; do
  for i in $(seq 1 "$rounds"); do
    if [[ -n $llama ]]; then
      "$llama" -m "$llama_model" -p "$p" -n "$n" -t "$t" -r 1 -o json > "$out/llama-t$t-$i.json" 2>/dev/null
    fi
    for m in "$@"; do
      "$ours" bench -m "$m" -p "$p" -n "$n" -t "$t" -r 1 -o json --membw > "$out/ours-$(basename "$m")-t$t-$i.json" 2>/dev/null
    done
  done
done
/usr/bin/python3 - "$out" <<'PY'
import json, glob, os, statistics, sys
out = sys.argv[1]
rows = {}
for f in sorted(glob.glob(os.path.join(out, "*.json"))):
    name = os.path.basename(f).rsplit("-t", 1)[0]
    for e in json.load(open(f)):
        test = f"pp{e['n_prompt']}" if e["n_prompt"] > 0 else f"tg{e['n_gen']}"
        key = (name, e["n_threads"], test)
        rows.setdefault(key, {"ts": [], "pct": [], "bw": []})
        rows[key]["ts"].append(e["avg_ts"])
        bw = e.get("membw_median_bps", 0)
        if bw > 0:  # pocketllm's decode roofline: t/s against read bandwidth / bytes per token
            ceiling = bw / (e["weight_bytes_per_token"] + e["kv_bytes_per_token"])
            rows[key]["bw"].append(bw / 1e9)
            rows[key]["pct"].append(100.0 * e["avg_ts"] / ceiling)
print("| engine / model | threads | test | t/s median | range | runs | read GB/s | % ceiling |")
print("|---|---:|---|---:|---|---:|---:|---:|")
for (name, t, test), r in sorted(rows.items(), key=lambda kv: (-kv[0][1], kv[0][2], kv[0][0])):
    ts = r["ts"]
    bw = f"{statistics.median(r['bw']):.1f}" if r["bw"] else ""
    pct = f"{statistics.median(r['pct']):.1f}" if r["pct"] else ""
    print(f"| {name} | {t} | {test} | {statistics.median(ts):.2f} | {min(ts):.2f}-{max(ts):.2f} | {len(ts)} | {bw} | {pct} |")
PY
