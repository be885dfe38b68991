"""``convzoo test CONFIG CHECKPOINT``: evaluate a checkpoint on a config's test set (mmdet's CLI conventions)."""
from __future__ import annotations

import os.path as osp

from convzoo.cli.common import build_runner, common_parser
from convzoo.core.errors import ConfigError


def parse_args(argv=None, prog=None):
    parser = common_parser('Test (evaluate) a checkpoint', prog)
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump the raw predictions to this .pkl file')
    parser.add_argument('--show-dir', help='draw predictions into this folder (inside the work dir)')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation, if the config defines it')
    return parser.parse_args(argv)


def main(argv=None, prog=None) -> int:
    from mmengine.dist import is_main_process

    from convzoo.cli.common import setup_config, write_json
    from convzoo.cli.preflight import preflight
    args = parse_args(argv, prog)
    cfg = setup_config(args)
    cfg.load_from = args.checkpoint
    if args.show_dir and 'visualization' in cfg.get('default_hooks', {}):
        cfg.default_hooks.visualization.update(draw=True, test_out_dir=args.show_dir)
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise ConfigError(f'{args.config} defines no tta_model/tta_pipeline')
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    if args.out:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = [*evaluators, dict(type='DumpResults', out_file_path=args.out)]
    preflight(cfg, args.config, 'test')
    runner = build_runner(cfg)
    metrics = runner.test()
    if is_main_process():  # every rank holds the same gathered metrics
        out = osp.join(runner.work_dir, 'test_metrics.json')
        write_json(out, dict(config=args.config, checkpoint=args.checkpoint, metrics=metrics))
        print(f'Metrics written to {osp.abspath(out)}')
    return 0
