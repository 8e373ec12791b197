#!/usr/bin/env bash
# Installs the Debian 12 packages pocketllm builds and tests with (sudo when not root).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
PKGS=(build-essential cmake ninja-build pkg-config git
      nlohmann-json3-dev libfmt-dev libcli11-dev libcpp-httplib-dev libssl-dev openssl ca-certificates
      libpcre2-dev libutf8proc-dev libedit-dev
      libgtest-dev libgmock-dev libbenchmark-dev
      python3 python3-venv python3-jinja2 python3-numpy python3-sentencepiece
      chromium chromium-driver)  # the chat page's browser test (tests/server/chat_page_browser.py)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
