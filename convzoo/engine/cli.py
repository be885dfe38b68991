"""What tools/train.py and tools/test.py share: argument conventions of mmdet, config set-up, error reporting."""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import re
import sys
from typing import Callable

from convzoo.apis.sources import SourceError
from convzoo.tasks.detection.coco_check import AnnotationError
from convzoo.utils.compat import CheckpointError
from convzoo.utils.config import ConfigError, DictAction, load_config

USER_ERRORS = (ConfigError, CheckpointError, AnnotationError, SourceError, FileNotFoundError)


# Errors raised deep inside mmcv/mmdet (possibly in a data-loader worker) that are really about the user's data.
KNOWN_MESSAGES = [(re.compile(r'failed to load image: (\S+?)[\'"]?(\n|$)'),
                   '{0}: the image cannot be decoded (corrupt, truncated or not an image)')]


def user_message(err: BaseException) -> str | None:
    """The one-line message for an error the user can fix, or None for a bug."""
    if isinstance(err, USER_ERRORS):
        return str(err)
    if isinstance(err, KeyError) and 'registry' in str(err):
        return str(err.args[0])
    for pattern, template in KNOWN_MESSAGES:
        found = pattern.search(str(err))
        if found:
            return template.format(*found.groups())
    return None


def run_main(main: Callable[[], int | None]) -> None:
    """Run a tool; a user error prints one line (``CONVZOO_DEBUG=1`` shows the traceback) and exits 1."""
    try:
        sys.exit(main() or 0)
    except Exception as err:  # noqa: BLE001
        message = user_message(err)
        if message is None or os.environ.get('CONVZOO_DEBUG'):
            raise
        print(f'error: {message}', file=sys.stderr)
        sys.exit(1)


def common_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go (default: work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_cfg.max_epochs=2 model.backbone.init_cfg=None')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher (tools/dist_train.sh uses pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def setup_config(args: argparse.Namespace):
    """Load the config and apply the options every tool shares."""
    import convzoo  # noqa: F401  (registers modules, applies compatibility fixes)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def write_json(path: str, data) -> None:
    """Write JSON atomically: a reader never sees a half-written file."""
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=2, default=float)
    os.replace(tmp, path)
