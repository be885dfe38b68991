"""``convzoo train CONFIG``: train a model from a config (mmdet's CLI conventions), for every convzoo task."""
from __future__ import annotations

import os.path as osp

from convzoo.cli.common import build_runner, common_parser


def parse_args(argv=None, prog=None):
    parser = common_parser('Train a detector, segmentor or restoration model', prog)
    parser.add_argument('--amp', action='store_true', help='mixed precision training')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale the lr by the total batch size')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from a checkpoint file, or (no value) from the latest in the work dir')
    return parser.parse_args(argv)


def main(argv=None, prog=None) -> int:
    from mmengine.dist import is_main_process

    from convzoo.cli.common import setup_config
    from convzoo.cli.preflight import preflight
    args = parse_args(argv, prog)
    cfg = setup_config(args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        cfg.auto_scale_lr = dict(cfg.get('auto_scale_lr') or {}, enable=True)  # stored in cfg, not a detached copy
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    preflight(cfg, args.config, 'train')
    runner = build_runner(cfg)
    runner.train()
    if not is_main_process():
        return 0
    last = osp.join(runner.work_dir, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            print(f'Checkpoint: {f.read().strip()}')
    print(f'Logs and checkpoints are in {osp.abspath(runner.work_dir)}')
    return 0
