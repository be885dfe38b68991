"""``convzoo convert``: official checkpoints into convzoo checkpoints (for ``convzoo test``, the Inferencer).

    convzoo convert mirnet model_denoising.pth checkpoints/mirnet_sidd.pth
    convzoo convert deanet PSNR4131_SSIM9945.pk checkpoints/deanet_its.pth           # train form
    convzoo convert deanet PSNR4131_SSIM9945.pk checkpoints/deanet_its_deploy.pth --deploy
    convzoo convert arc arc_resnet50_n4.pth checkpoints/arc_resnet50_n4_imagenet.pth [--prefix backbone.]
    convzoo convert oriented_rcnn oriented_rcnn_r50_fpn_1x_dota_le90.pth checkpoints/oriented_rcnn_r50.pth

MIRNet/DEA-Net: the target network is the one of ``--config`` (default: the paper config of that model); a deploy
checkpoint is tested with ``--cfg-options model.generator.deploy=True``. Keys that cannot be placed are listed; if
the target network would be left with weights missing, nothing is written. Every file is read weights-only and
written atomically.
"""
from __future__ import annotations

import argparse
import os.path as osp

from convzoo.core.errors import ConfigError, ConversionError

PAPER_CONFIGS = {'mirnet': 'configs/mirnet/mirnet_sidd.py', 'deanet': 'configs/dea_net/deanet_its.py'}


def build_target(model: str, config: str, deploy: bool):
    from mmengine.registry import init_default_scope

    from convzoo.core.config import load_config
    from convzoo.core.registry import MODELS
    cfg = load_config(config)
    init_default_scope('convzoo')
    generator = dict(cfg.model.generator)
    if model == 'deanet':
        generator['deploy'] = deploy
    elif deploy:
        raise ConfigError('--deploy applies to DEA-Net only')
    return MODELS.build(generator)


def convert_restoration(args) -> None:
    from convzoo.converters.restoration import convert_deanet, convert_mirnet
    from convzoo.core.checkpoint import save_checkpoint_atomic
    from convzoo.core.safe_load import load_checkpoint_file
    target = build_target(args.model, args.config or PAPER_CONFIGS[args.model], args.deploy)
    convert = convert_mirnet if args.model == 'mirnet' else convert_deanet
    try:
        conversion = convert(load_checkpoint_file(args.src, 'cpu'), target)
    except ConversionError as err:
        raise ConversionError(f'{args.src}: {err}') from None
    for note in conversion.notes:
        print(f'note: {note}')
    print(f'placed {len(conversion.state_dict)} tensors')
    if conversion.unplaced:
        print(f'could not place {len(conversion.unplaced)} key(s) of {args.src}:')
        print('\n'.join(f'  {k}' for k in conversion.unplaced))
    if conversion.missing:
        listing = ', '.join(conversion.missing[:5]) + (' ...' if len(conversion.missing) > 5 else '')
        raise ConversionError(f'{args.src}: {len(conversion.missing)} weight(s) of the target network are missing '
                              f'(is --config the right network?), nothing written: {listing}')
    meta = dict(converted_from=osp.basename(args.src), model=args.model, deploy=args.deploy)
    save_checkpoint_atomic(conversion.checkpoint(meta), args.dst)
    print(f'wrote {args.dst}')


def main(argv=None, prog=None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('model', choices=sorted([*PAPER_CONFIGS, 'arc', 'oriented_rcnn']),
                        help='whose official checkpoint')
    parser.add_argument('src', help='official checkpoint file')
    parser.add_argument('dst', help='convzoo checkpoint to write')
    parser.add_argument('--config', help='MIRNet/DEA-Net: config whose model.generator is the target '
                                         '(default: the paper config)')
    parser.add_argument('--deploy', action='store_true', help='DEA-Net: write the deploy form (merged DEConvs)')
    parser.add_argument('--prefix', default='', help="ARC: key prefix to add, e.g. 'backbone.' for a detector")
    args = parser.parse_args(argv)
    import convzoo  # noqa: F401  (registration)
    if args.model == 'arc':
        from convzoo.converters.arc_resnet import main as convert_arc
        convert_arc([args.src, args.dst, '--prefix', args.prefix])
    elif args.model == 'oriented_rcnn':
        from convzoo.converters.oriented_rcnn import main as convert_oriented_rcnn
        convert_oriented_rcnn([args.src, args.dst])
    else:
        convert_restoration(args)
    return 0
