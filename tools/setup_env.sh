#!/usr/bin/env bash
# Creates .venv with the pinned OpenMMLab stack (mmcv compiled from source with its CPU ops) and installs
# convzoo into it. Idempotent: when everything is in place it only re-checks the compiled ops (seconds).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
WHEEL_CACHE=${CONVZOO_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/convzoo/wheels}
CONSTRAINTS=requirements/constraints.txt
STAMP=$VENV/.convzoo-setup
digest=$(cat tools/setup_env.sh requirements/*.txt pyproject.toml | sha256sum | cut -c1-16)

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
fail() { printf '\033[31m[setup] %s\033[0m\n' "$*" >&2; exit 1; }

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$digest" ]; then
  "$VENV/bin/python" tools/check_env.py --quiet && exit 0
  log "environment changed since the last set-up; repairing"
fi

"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || fail "Python 3.11 is required (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11"
[ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q -c "$CONSTRAINTS")

log "torch (CPU), setuptools<82, wheel, ninja"
"${PIP[@]}" "torch==2.13.0" "setuptools>=77.0.3,<82" wheel ninja
log "numpy, OpenCV"
"${PIP[@]}" "numpy==2.4.6" opencv-python-headless

if ! "$VENV/bin/python" -c 'import mmcv, mmcv._ext' 2>/dev/null; then
  mkdir -p "$WHEEL_CACHE"
  whl=$(ls "$WHEEL_CACHE"/mmcv-2.1.0-*.whl 2>/dev/null | head -1 || true)
  if [ -z "$whl" ]; then
    jobs=$(nproc 2>/dev/null || echo 2)
    log "building mmcv 2.1.0 from source with its ops (MAX_JOBS=$jobs; about 14 minutes on 2 cores)"
    tmp=$(mktemp -d)
    MAX_JOBS=$jobs MMCV_WITH_OPS=1 FORCE_CUDA=0 "$VENV/bin/python" -m pip wheel -q --no-build-isolation \
      --no-deps -c "$CONSTRAINTS" -w "$tmp" "mmcv==2.1.0" || fail "mmcv build failed (see above)"
    mv "$tmp"/mmcv-2.1.0-*.whl "$WHEEL_CACHE"/ && rm -rf "$tmp"
    whl=$(ls "$WHEEL_CACHE"/mmcv-2.1.0-*.whl | head -1)
  else
    log "mmcv 2.1.0 from the cached wheel $whl"
  fi
  "${PIP[@]}" "$whl"
fi

log "mmengine, mmdet, mmsegmentation and the data/eval packages"
"${PIP[@]}" -r requirements/runtime.txt
log "convzoo (editable)"
"${PIP[@]}" --no-build-isolation --no-deps -e .

"$VENV/bin/python" tools/check_env.py || fail "the environment check failed; see the diagnosis above"
echo "$digest" > "$STAMP"
log "ready: $VENV ($("$VENV/bin/python" -c 'import torch, mmcv, mmdet; print(f"torch {torch.__version__}, mmcv {mmcv.__version__}, mmdet {mmdet.__version__}")'))"
