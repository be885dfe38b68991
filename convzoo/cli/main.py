"""``convzoo``: one command for every job, as mmdet's tools are run.

    convzoo train CONFIG [--work-dir DIR] [--resume] [--amp] [--cfg-options K=V ...]
    convzoo test CONFIG CHECKPOINT
    convzoo infer CONFIG CHECKPOINT SOURCE [--out-dir DIR]
    convzoo demo [--task detection|rotated]
    convzoo benchmark [--suite NAME]
    convzoo compare-demos [--jobs 2]
    convzoo convert {arc,rcnet,dn_fpn,oriented_rcnn,mirnet,deanet} SRC DST [--sha256 HEX]
    convzoo export CONFIG [CHECKPOINT] OUT.onnx
    convzoo serve [--config CONFIG] [--checkpoint CKPT] [--host 127.0.0.1] [--port 0]

CONFIG is a path, or a config shipped with convzoo (``convzoo::sepc/demo/sepc_lite_retinanet_demo.py``; a missing
``configs/...`` path also falls back to the shipped copy). ``convzoo --debug <command> ...`` shows the traceback of
a user error instead of its one ``error:`` line.
"""
from __future__ import annotations

import importlib
import os
import sys

from convzoo.cli.common import run_main

COMMANDS = {  # command -> (module under convzoo.cli, one-line help)
    'train': ('train', 'train a model from a config'),
    'test': ('test', 'evaluate a checkpoint on the config\'s test set'),
    'infer': ('infer', 'run a model on an image, folder, glob or video'),
    'demo': ('demo', 'train and evaluate a demo on embedded data (detection, rotated)'),
    'benchmark': ('benchmark', 'CPU latency benchmarks with same-run baselines'),
    'compare-demos': ('compare_demos', 'train demo configs beside their baselines and tabulate mAP'),
    'convert': ('convert', 'convert official checkpoints (ARC, RCNet, DN-FPN, Oriented R-CNN, MIRNet, DEA-Net)'),
    'export': ('export', 'export a detector, segmentor or restoration network to ONNX, checked with onnxruntime'),
    'serve': ('serve', 'a local web demo: upload an image or video, see the drawn result, download the JSON'),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f'  {name:<{width}}  {help_}' for name, (_, help_) in COMMANDS.items()]
    return 'usage: convzoo [--debug] <command> [args]\n\ncommands:\n' + '\n'.join(lines) + \
        '\n\n`convzoo <command> --help` describes a command.'


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['--debug']:
        os.environ['CONVZOO_DEBUG'] = '1'
        argv = argv[1:]
    if not argv or argv[0] in ('-h', '--help'):
        print(__doc__.strip().splitlines()[0] + '\n\n' + usage())
        sys.exit(0)
    if argv[0] not in COMMANDS:
        print(f'error: unknown command {argv[0]!r}\n\n{usage()}', file=sys.stderr)
        sys.exit(2)
    module, _ = COMMANDS[argv[0]]
    command = importlib.import_module(f'convzoo.cli.{module}')
    run_main(lambda: command.main(argv[1:], prog=f'convzoo {argv[0]}'))
