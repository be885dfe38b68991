#!/usr/bin/env bash
# Creates .venv with the pinned OpenMMLab stack (mmcv compiled from source with its ops) and installs convzoo into
# it. Idempotent: when everything is in place it only re-checks the compiled ops (seconds).
#
# mmcv's ops are compiled for what the machine has (tools/setup_cuda.py decides): CPU ops, or, when torch is a
# CUDA build that sees a GPU, CUDA ops for the local GPUs' compute capabilities (FORCE_CUDA=1; nvcc of torch's
# CUDA major required). Built wheels are cached per torch version, CUDA version (or cpu) and arch list.
# Variables (docs/gpu.md): PYTHON, VENV, CONVZOO_WHEEL_CACHE, TORCH_CUDA_ARCH_LIST, CUDA_HOME, MAX_JOBS, and
# CONVZOO_TORCH=system (use the torch already installed for $PYTHON: the venv sees its site-packages, and the
# pinned CPU torch is not installed).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
TORCH_SOURCE=${CONVZOO_TORCH:-pinned}
WHEEL_CACHE=${CONVZOO_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/convzoo/wheels}
CONSTRAINTS=requirements/constraints.txt
STAMP=$VENV/.convzoo-setup
MMCV_SPEC=mmcv==2.1.0
digest=$( { cat tools/setup_env.sh tools/setup_cuda.py requirements/*.txt pyproject.toml patches/*/*.patch
            echo "$TORCH_SOURCE ${TORCH_CUDA_ARCH_LIST:-}"; } | sha256sum | cut -c1-16)

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
fail() { printf '\033[31m[setup] %s\033[0m\n' "$*" >&2; exit 1; }

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$digest" ]; then
  "$VENV/bin/python" tools/check_env.py --quiet && exit 0
  log "environment changed since the last set-up; repairing"
fi

# The venv: its own pinned torch, or (CONVZOO_TORCH=system) the user's torch through --system-site-packages.
create_venv() {
  local shared=false venv_args=()
  case $TORCH_SOURCE in
    pinned) ;;
    system) shared=true venv_args=(--system-site-packages) ;;
    *) fail "CONVZOO_TORCH must be 'system' or unset (found '$TORCH_SOURCE')" ;;
  esac
  if [ -x "$VENV/bin/python" ] && ! grep -qx "include-system-site-packages = $shared" "$VENV/pyvenv.cfg"; then
    fail "$VENV was made for another CONVZOO_TORCH setting; remove it (rm -rf $VENV) and run the set-up again"
  fi
  check_python
  [ -x "$VENV/bin/python" ] && return
  log "creating $VENV${venv_args[*]:+ (${venv_args[*]})}"
  "$PYTHON" -m venv "${venv_args[@]}" "$VENV"
  [ "$TORCH_SOURCE" = pinned ] || "$VENV/bin/python" -c 'import torch' 2>/dev/null \
    || fail "$VENV does not see the torch of $PYTHON (a venv made from another venv's python sees its base's" \
            "packages only): remove $VENV and set PYTHON to the interpreter torch is installed for"
}

# Python 3.11 for the pinned stack; with CONVZOO_TORCH=system any Python >= 3.10 that has torch (the venv's, once
# it exists, since it sees the same packages).
check_python() {
  if [ "$TORCH_SOURCE" = pinned ]; then
    "$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
      || fail "Python 3.11 is required (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11"
    return
  fi
  local py=$PYTHON
  [ -x "$VENV/bin/python" ] && py=$VENV/bin/python
  "$py" -c 'import sys, torch; assert sys.version_info >= (3, 10)' 2>/dev/null \
    || fail "CONVZOO_TORCH=system needs a Python >= 3.10 with torch installed, and $py has none:" \
            "install a CUDA torch for it, or set PYTHON=/path/to/the/python/that/has/it"
}

# The pip install command: every call honours the pins; with the user's torch, torch's pin is left out (pip would
# otherwise install the pinned torch into the venv over it), and convzoo itself may go to another Python than 3.11.
pip_command() {
  PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)
  CONVZOO_PIP=(--no-build-isolation --no-deps -e .)
  if [ "$TORCH_SOURCE" = system ]; then
    grep -v '^torch==' "$CONSTRAINTS" > "$VENV/constraints-system-torch.txt"
    PIP+=(-c "$VENV/constraints-system-torch.txt")
    CONVZOO_PIP+=(--ignore-requires-python)  # for convzoo only: for others pip would pick releases for other Pythons
  else
    PIP+=(-c "$CONSTRAINTS")
  fi
}

# Compile mmcv's ops as the plan says (FORCE_CUDA, TORCH_CUDA_ARCH_LIST, CUDA_HOME, MAX_JOBS) into a temporary
# folder inside the cache, then rename the finished wheel into its keyed folder: a failed or interrupted build
# leaves nothing under a name the cache would take. CUDA builds compile the sdist with patches/ applied.
build_mmcv() {
  local src=$MMCV_SPEC build_env=(MAX_JOBS="$MAX_JOBS" MMCV_WITH_OPS=1 FORCE_CUDA="$FORCE_CUDA")
  mkdir -p "$WHEEL_CACHE"
  BUILD_TMP=$(mktemp -d "$WHEEL_CACHE/.build-XXXXXX")
  trap 'rm -rf "$BUILD_TMP"' EXIT
  if [ "$FORCE_CUDA" = 1 ]; then
    src=$("$VENV/bin/python" tools/setup_cuda.py source "$BUILD_TMP/src") \
      || fail "could not prepare mmcv's source (see above)"
    build_env+=(TORCH_CUDA_ARCH_LIST="$TORCH_CUDA_ARCH_LIST" CUDA_HOME="$CUDA_HOME" PATH="$CUDA_HOME/bin:$PATH")
    log "building mmcv 2.1.0 with $PLAN_SUMMARY (MAX_JOBS=$MAX_JOBS; 10-30 minutes on 16 cores per architecture)"
  else
    log "building mmcv 2.1.0 from source with its CPU ops (MAX_JOBS=$MAX_JOBS; about 14 minutes on 2 cores)"
  fi
  # --no-cache-dir: pip's own wheel cache is keyed by the sdist only and could hand back a CPU build for CUDA
  env "${build_env[@]}" "$VENV/bin/python" -m pip wheel -q --disable-pip-version-check --no-cache-dir \
    --no-build-isolation --no-deps -c "$CONSTRAINTS" -w "$BUILD_TMP/wheel" "$src" \
    || fail "mmcv build failed (see above); nothing was cached"
  mkdir -p "$WHEEL_CACHE/$CACHE_KEY"
  mv "$BUILD_TMP"/wheel/mmcv-2.1.0-*.whl "$WHEEL_CACHE/$CACHE_KEY/"  # same file system: a rename
  rm -rf "$BUILD_TMP"
  trap - EXIT
}

# mmcv with the ops the plan asks for: kept when the installed one fits, else from the cache, else built.
install_mmcv() {
  local plan whl
  plan=$("$VENV/bin/python" tools/setup_cuda.py plan) || exit 1  # it printed the one-line reason
  eval "$plan"
  log "mmcv ops: $PLAN_SUMMARY"
  "$VENV/bin/python" tools/setup_cuda.py migrate "$WHEEL_CACHE" "$CACHE_KEY"
  "$VENV/bin/python" tools/setup_cuda.py installed "$MMCV_CUDA" && return
  whl=$(ls "$WHEEL_CACHE/$CACHE_KEY"/mmcv-2.1.0-*.whl 2>/dev/null | head -1 || true)
  if [ -z "$whl" ]; then
    build_mmcv
    whl=$(ls "$WHEEL_CACHE/$CACHE_KEY"/mmcv-2.1.0-*.whl | head -1)
  else
    log "mmcv 2.1.0 from the cached wheel $whl"
  fi
  "$VENV/bin/python" -m pip uninstall -y -q mmcv >/dev/null 2>&1 || true  # same version: pip would keep the old one
  "${PIP[@]}" "$whl"
}

# Debian's Chromium, which the browser test of `convzoo serve` drives (tests/test_serve.py, through Playwright); only
# as root with apt-get, and a failure leaves the rest of the set-up as it is (that test then names what is missing).
install_chromium() {
  [ -x /usr/bin/chromium ] && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "chromium (Debian's package, for the web demo's browser test)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null \
      || log "apt-get could not install chromium; the browser test of convzoo serve will fail until it is installed"
  else
    log "no /usr/bin/chromium: install Debian's chromium package (apt-get install chromium) for the browser test"
  fi
}

create_venv
pip_command
if [ "$TORCH_SOURCE" = system ]; then
  log "torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)') of $PYTHON; setuptools<82, wheel, ninja"
  "${PIP[@]}" "setuptools>=77.0.3,<82" wheel ninja
else
  log "torch 2.13.0, setuptools<82, wheel, ninja"
  "${PIP[@]}" "torch==2.13.0" "setuptools>=77.0.3,<82" wheel ninja
fi
log "numpy, OpenCV"
"${PIP[@]}" "numpy==2.4.6" opencv-python-headless

install_mmcv

log "mmengine, mmdet, mmsegmentation and the data/eval packages"
"${PIP[@]}" -r requirements/runtime.txt
log "convzoo (editable)"
"${PIP[@]}" "${CONVZOO_PIP[@]}"
# convzoo's C sampler for the CPU deformable conv (a second; without a compiler the PyTorch sampling runs instead,
# and a later run builds it when one appears)
"$VENV/bin/python" -m convzoo.layers.native || log "could not build convzoo's C sampler; see above"

install_chromium
"$VENV/bin/python" tools/check_env.py || fail "the environment check failed; see the diagnosis above"
echo "$digest" > "$STAMP"
log "ready: $VENV ($("$VENV/bin/python" -c 'import torch, mmcv, mmdet; print(f"torch {torch.__version__}, mmcv {mmcv.__version__}, mmdet {mmdet.__version__}")'))"
