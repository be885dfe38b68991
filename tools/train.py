"""Train a model from a config (mmdet's CLI conventions); works for every convzoo task."""
import os.path as osp

from convzoo.engine.cli import common_parser, run_main, setup_config


def parse_args():
    parser = common_parser('Train a detector, segmentor or restoration model')
    parser.add_argument('--amp', action='store_true', help='mixed precision training')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale the lr by the total batch size')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from a checkpoint file, or (no value) from the latest in the work dir')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = setup_config(args)
    from convzoo.engine import ConvzooRunner
    from convzoo.utils.config import preflight
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    preflight(cfg, args.config, 'train')
    runner = ConvzooRunner.from_cfg(cfg)
    runner.train()
    last = osp.join(runner.work_dir, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            print(f'Checkpoint: {f.read().strip()}')
    print(f'Logs and checkpoints are in {osp.abspath(runner.work_dir)}')


if __name__ == '__main__':
    run_main(main)
