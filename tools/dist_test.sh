#!/usr/bin/env bash
# Distributed testing with PyTorch DDP through torchrun: each process evaluates its share of the test set.
#   tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
# Several machines: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on each (tools/dist_run.sh).
[ $# -ge 3 ] || { echo "usage: $0 CONFIG CHECKPOINT GPUS [test.py options]" >&2; exit 2; }
exec bash "$(dirname "$0")/dist_run.sh" tools/test.py "$3" "$1" "$2" "${@:4}"
