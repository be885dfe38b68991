#!/usr/bin/env bash
# What tools/dist_train.sh and tools/dist_test.sh share: start a tools/*.py script on NPROC processes through
# torchrun with mmengine's 'pytorch' launcher.
#   tools/dist_run.sh SCRIPT NPROC [script arguments]
# Several machines: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on each. The venv's python is used when there
# is one (.venv/bin/python, else python). Without a usable GPU the processes train on the CPU with the gloo backend
# (convzoo/core/distributed.py); with GPUs, NPROC may not exceed the GPUs this machine shows.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 SCRIPT NPROC [script arguments]" >&2; exit 2; }
SCRIPT=$1
NPROC=$2
cd "$(dirname "$0")/.."
PY=python
[ -x .venv/bin/python ] && PY=.venv/bin/python

# One clear line before torchrun starts NPROC processes that would each fail the same way.
gpus=$("$PY" -c 'import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)' 2>/dev/null \
  || echo 0)
if [ "$gpus" -gt 0 ] && [ "$NPROC" -gt "$gpus" ]; then
  echo "error: $NPROC processes on this machine but $gpus GPU(s) visible: start at most $gpus, one process per GPU" >&2
  exit 1
fi

exec "$PY" -m torch.distributed.run --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" --nproc_per_node="$NPROC" \
  "$SCRIPT" --launcher pytorch "${@:3}"
