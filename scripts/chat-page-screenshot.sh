#!/usr/bin/env bash
# Regenerates docs/chat-page.png: the browser test of the chat page (headless Chromium,
# tests/server/chat_page_browser.py) against `pocketllm serve` on stories260K, whose
# phone-sized (390x844) screenshot is copied into docs/. Needs a built build/apps/pocketllm,
# scripts/install-deps.sh (chromium, chromium-driver) and scripts/venv.sh (selenium).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${POCKETLLM_TEST_BINARY:-build/apps/pocketllm}
models=${POCKETLLM_SHARED:-../shared}/data/models/stories260K
python=$(bash scripts/venv.sh)
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
printf '%s' "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}" > "$work/template.jinja"
"$bin" serve -m "$models/stories260K.bin" --tokenizer "$models/tok512.bin" \
  --chat-template-file "$work/template.jinja" --alias stories -c 4096 -t 1 --port 0 2> "$work/log" &
pid=$!
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/log" | head -1)
  [ -n "$port" ] && "$python" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/health')" 2>/dev/null && break
  sleep 0.2
done
[ -n "${port:-}" ] || { cat "$work/log"; exit 1; }
out=$("$python" tests/server/chat_page_browser.py "http://127.0.0.1:$port" "$work")
echo "$out" | tail -1
echo "$out" | tail -1 | "$python" -c 'import json,sys; p=json.load(sys.stdin)["problems"]; sys.exit(1 if p else 0)'
cp "$work/chat-page.png" docs/chat-page.png
echo "wrote docs/chat-page.png"
