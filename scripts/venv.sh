#!/usr/bin/env bash
# Makes (or updates) the one Python virtual environment the tests use for PyPI
# packages, pinned in scripts/requirements.txt, and prints its python's path.
# Location: $POCKETLLM_VENV, default ~/.cache/pocketllm/venv (outside the repo).
# Idempotent and quiet when the environment already matches the requirements.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${POCKETLLM_VENV:-$HOME/.cache/pocketllm/venv}"
req=scripts/requirements.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
# Debian's python3 (not a pyenv shim): the venv must work on a fresh Debian 12 machine.
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
if [ ! -x "$venv/bin/python" ]; then
  if ! "$py" -m venv --help >/dev/null 2>&1 || ! "$py" -c 'import ensurepip' >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "installing: python3-venv" >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  "$py" -m venv "$venv" >&2
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing the pinned PyPI packages into $venv" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
  echo "$want" > "$stamp.tmp" && mv "$stamp.tmp" "$stamp"
fi
echo "$venv/bin/python"
