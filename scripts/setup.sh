#!/usr/bin/env bash
# Installs everything selfmine needs on a fresh machine: bubblewrap (where apt and root allow), a virtual
# environment, the CPU build of torch, and selfmine with its pinned version matrix (constraints.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing bubblewrap (the judge's sandbox)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) >/dev/null \
      || echo "setup: could not install bubblewrap; the judge will fall back to weaker isolation"
  else
    echo "setup: bubblewrap is missing and cannot be installed here (needs root and apt); install it for full isolation"
  fi
fi

# Headless Chromium renders the run report in a test; optional (that test skips without it).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "setup: chromium not installed; the report rendering test will be skipped"
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
"$VENV/bin/python" -m pip install -q "torch==2.13.0"
"$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[ml,eval,dev]"
touch "$VENV/.installed"
echo "setup: done ($("$VENV/bin/selfmine" version))"
