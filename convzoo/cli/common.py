"""What the command-line tools share: mmdet's argument conventions, config set-up, error reporting."""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
from typing import Callable

from convzoo.core.config import DictAction, load_config
from convzoo.core.distributed import configure_launcher
from convzoo.core.errors import ConvzooError

# FileNotFoundError: a path the user typed (config, checkpoint, image) that is not there
USER_ERRORS = (ConvzooError, FileNotFoundError)


def user_message(err: BaseException) -> str | None:
    """The one-line message for an error the user can fix, or None for a bug.

    An error raised in a data-loader worker comes back as the same type with the worker's traceback as its
    message; its last line holds the original message behind the exception's qualified name."""
    if not isinstance(err, USER_ERRORS):
        return None
    message = str(err).strip()
    if '\n' in message:
        message = message.splitlines()[-1]
        prefix = f'{type(err).__module__}.{type(err).__qualname__}: '
        message = message[len(prefix):] if message.startswith(prefix) else message
    return message


def run_main(main: Callable[[], int | None]) -> None:
    """Run a tool; a user error prints one line (``--debug`` or ``CONVZOO_DEBUG=1`` shows the traceback) and
    exits 1."""
    if '--debug' in sys.argv[1:]:  # accepted by every tool, before its own arguments are parsed
        sys.argv.remove('--debug')
        os.environ['CONVZOO_DEBUG'] = '1'
    try:
        sys.exit(main() or 0)
    except Exception as err:  # noqa: BLE001
        message = user_message(err)
        if message is None or os.environ.get('CONVZOO_DEBUG'):
            raise
        print(f'error: {message}', file=sys.stderr)
        sys.exit(1)


def common_parser(description: str, prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument('config', help='config file path (or a shipped config: convzoo::sepc/demo/x.py, configs/x.py)')
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
    configure_launcher(cfg, args.launcher)  # gloo and no CUDA device selection without a GPU
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_runner(cfg):
    """The config's runner, as mmdet's tools build it: ``runner_type`` (every convzoo config names
    ``ConvzooRunner``) through mmengine's ``RUNNERS``, else convzoo's runner."""
    from mmengine.registry import RUNNERS

    from convzoo.engine import ConvzooRunner
    return RUNNERS.build(cfg) if 'runner_type' in cfg else ConvzooRunner.from_cfg(cfg)


def write_json(path: str, data) -> None:
    """Write JSON atomically under a temporary name of its own: a reader never sees a half-written file, and two
    writers never share a temporary file."""
    import tempfile
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.part', dir=osp.dirname(osp.abspath(path)))
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(data, f, indent=2, default=float)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
