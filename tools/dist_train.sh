#!/usr/bin/env bash
# Distributed training with PyTorch DDP through torchrun (mmengine's 'pytorch' launcher).
#   tools/dist_train.sh CONFIG GPUS [train.py options]
# Several machines: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on each. Without a GPU, GPUS CPU processes
# train with the gloo backend (tools/dist_run.sh).
[ $# -ge 2 ] || { echo "usage: $0 CONFIG GPUS [train.py options]" >&2; exit 2; }
exec bash "$(dirname "$0")/dist_run.sh" tools/train.py "$2" "$1" "${@:3}"
