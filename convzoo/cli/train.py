"""``convzoo train CONFIG``: train a model from a config (mmdet's CLI conventions), for every convzoo task."""
from __future__ import annotations

import os.path as osp

from convzoo.cli.common import build_runner, common_parser
from convzoo.core.errors import ConfigError


def parse_args(argv=None, prog=None):
    parser = common_parser('Train a detector, segmentor or restoration model', prog)
    parser.add_argument('--amp', action='store_true', help='mixed precision training')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale the lr by the total batch size')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from a checkpoint file, or (no value) from the latest in the work dir')
    return parser.parse_args(argv)


def _amp_device_available() -> bool:
    from mmengine import device
    checks = (device.is_cuda_available, device.is_npu_available, device.is_mlu_available, device.is_musa_available)
    return any(available() for available in checks)


def apply_training_options(cfg, args) -> None:
    """``--amp`` and ``--auto-scale-lr`` written into ``cfg`` itself (the runner is built from it), refused with one
    line naming the config when they cannot work."""
    if args.amp:
        # mmengine's AmpOptimWrapper asserts a CUDA/NPU/MLU/MUSA device and has no CPU autocast path
        if not _amp_device_available():
            raise ConfigError(f'{args.config}: --amp needs a GPU (mmengine\'s AmpOptimWrapper runs on CUDA, NPU, '
                              'MLU or MUSA devices) and this machine has none; train without --amp')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        scaling = cfg.get('auto_scale_lr') or {}
        if not isinstance(scaling.get('base_batch_size'), int):
            raise ConfigError(f'{args.config}: --auto-scale-lr needs auto_scale_lr = dict(base_batch_size=N) in the '
                              'config: the total batch size its lr was set for')
        cfg.auto_scale_lr = dict(scaling, enable=True)


def training_runner(argv=None, prog=None):
    """The runner ``convzoo train`` trains with: config, command-line options, pre-flight checks, then the build."""
    from convzoo.cli.common import setup_config
    from convzoo.cli.preflight import preflight
    args = parse_args(argv, prog)
    cfg = setup_config(args)
    apply_training_options(cfg, args)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    preflight(cfg, args.config, 'train')
    return build_runner(cfg)


def main(argv=None, prog=None) -> int:
    from mmengine.dist import is_main_process
    runner = training_runner(argv, prog)
    runner.train()
    if not is_main_process():
        return 0
    last = osp.join(runner.work_dir, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            print(f'Checkpoint: {f.read().strip()}')
    print(f'Logs and checkpoints are in {osp.abspath(runner.work_dir)}')
    return 0
