#!/usr/bin/env bash
# Extracts the real English running texts used to evaluate and calibrate real models
# into $POCKETLLM_MODELS/text (default ~/.cache/pocketllm/models/text, outside the repo),
# from Debian 12 documentation packages (apt-get download: no install, no root needed
# once apt's lists exist). Sources and licences: docs/REAL_MODEL.md.
#   eval-debian-docs.txt    debian-reference-en 2.100 (GPL-2+), then developers-reference
#                           12.18 (GPL-2): ~88k words
#   calib-python-docs.txt   python3.11-doc 3.11.2 (PSF licence): tutorial, HOWTOs, FAQ
#                           and language reference, ~158k words
# Paragraphs of the HTML pages only (scripts/extract_running_text.py). Each text must
# have the sha256 pinned below: the fixtures in tests/ were measured on exactly these.
# Idempotent and quiet when both files are there with those hashes; prints the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${POCKETLLM_MODELS:-$HOME/.cache/pocketllm/models}/text"
eval_sha=c7be48d2ece2c3bf3092093e9b601179e8e2bbd9f3fefb66c0720c1c9c765e75
calib_sha=011ad6e489c53018f052ac76d251be3296787b166dbcb309b078bb7ef9b11ca5

ok() { [ -f "$dir/$1" ] && [ "$(sha256sum "$dir/$1" | cut -d' ' -f1)" == "$2" ]; }
if ok eval-debian-docs.txt "$eval_sha" && ok calib-python-docs.txt "$calib_sha"; then
  echo "$dir"
  exit 0
fi
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "extracting the evaluation and calibration texts from Debian packages into $dir" >&2
# python3.11-doc is not pinned to a version: its security updates replace the old
# one in the archive, and they leave the documentation text as it was (the sha pins that).
pkgs=(debian-reference-en=2.100 developers-reference=12.18 python3.11-doc)
apt_opts=(-qq)
[ "$(id -u)" -ne 0 ] || apt_opts+=(-o APT::Sandbox::User=root)
if ! (cd "$tmp" && apt-get download "${apt_opts[@]}" "${pkgs[@]}" >/dev/null 2>&1); then
  [ "$(id -u)" -eq 0 ] || { echo "error: apt-get download ${pkgs[*]} failed (run 'sudo apt-get update'?)" >&2; exit 1; }
  apt-get update -qq >&2
  (cd "$tmp" && apt-get download "${apt_opts[@]}" "${pkgs[@]}" >&2)
fi
for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
r="$tmp/root/usr/share"
# Debian's python3, as on a fresh machine (html.parser may differ between versions).
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
extract=("$py" scripts/extract_running_text.py)
"${extract[@]}" "$tmp/eval.txt" $(ls "$r"/debian-reference/ch*.en.html | LC_ALL=C sort) \
  $(ls "$r"/developers-reference/*.html | grep -v -E '/(index|search|genindex|developers-reference)\.html$' | LC_ALL=C sort)
p="$r/doc/python3.11/html"
"${extract[@]}" "$tmp/calib.txt" $(ls "$p"/tutorial/*.html "$p"/howto/*.html "$p"/faq/*.html "$p"/reference/*.html | LC_ALL=C sort)
check() {
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$got" != "$2" ]; then
    echo "error: $(basename "$3") extracted with sha256 $got, expected $2 (did a package change?" \
         "the fixtures under tests/ were measured on the pinned text)" >&2
    exit 1
  fi
  mv "$1" "$3"
}
check "$tmp/eval.txt" "$eval_sha" "$dir/eval-debian-docs.txt"
check "$tmp/calib.txt" "$calib_sha" "$dir/calib-python-docs.txt"
echo "$dir"
