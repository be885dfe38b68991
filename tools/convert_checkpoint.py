"""Convert an official MIRNet or DEA-Net checkpoint into a convzoo checkpoint (for tools/test.py, the Inferencer).

    python tools/convert_checkpoint.py mirnet model_denoising.pth checkpoints/mirnet_sidd.pth
    python tools/convert_checkpoint.py deanet PSNR4131_SSIM9945.pk checkpoints/deanet_its.pth           # train form
    python tools/convert_checkpoint.py deanet PSNR4131_SSIM9945.pk checkpoints/deanet_its_deploy.pth --deploy

The target network is the one of ``--config`` (default: the paper config of that model); a deploy checkpoint is
tested with ``--cfg-options model.generator.deploy=True``. Keys that cannot be placed are listed; if the target
network would be left with weights missing, nothing is written.
"""
import argparse
import os
import os.path as osp

from convzoo.engine.cli import run_main

PAPER_CONFIGS = {'mirnet': 'configs/restoration/mirnet_sidd.py', 'deanet': 'configs/restoration/deanet_its.py'}


def build_target(model: str, config: str, deploy: bool):
    from mmengine.registry import init_default_scope

    from convzoo.registry import MODELS
    from convzoo.utils.config import load_config
    cfg = load_config(config)
    init_default_scope('convzoo')
    generator = dict(cfg.model.generator)
    if model == 'deanet':
        generator['deploy'] = deploy
    elif deploy:
        raise SystemExit('error: --deploy applies to DEA-Net only')
    return MODELS.build(generator)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('model', choices=sorted(PAPER_CONFIGS))
    parser.add_argument('src', help='official checkpoint file')
    parser.add_argument('dst', help='convzoo checkpoint to write')
    parser.add_argument('--config', help='config whose model.generator is the target (default: the paper config)')
    parser.add_argument('--deploy', action='store_true', help='DEA-Net: write the deploy form (merged DEConvs)')
    args = parser.parse_args()
    import convzoo  # noqa: F401
    from convzoo.tasks.restoration.convert import ConversionError, convert_deanet, convert_mirnet
    from convzoo.utils.compat import load_checkpoint_file
    target = build_target(args.model, args.config or PAPER_CONFIGS[args.model], args.deploy)
    convert = convert_mirnet if args.model == 'mirnet' else convert_deanet
    try:
        conversion = convert(load_checkpoint_file(args.src, 'cpu'), target)
    except ConversionError as err:
        raise SystemExit(f'error: {args.src}: {err}')
    for note in conversion.notes:
        print(f'note: {note}')
    print(f'placed {len(conversion.state_dict)} tensors')
    if conversion.unplaced:
        print(f'could not place {len(conversion.unplaced)} key(s) of {args.src}:')
        print('\n'.join(f'  {k}' for k in conversion.unplaced))
    if conversion.missing:
        listing = '\n'.join(f'  {k}' for k in conversion.missing[:20])
        raise SystemExit(f'error: {len(conversion.missing)} weight(s) of the target network are not in {args.src} '
                         f'(is --config the right network?), nothing written:\n{listing}')
    import torch
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    meta = dict(converted_from=osp.basename(args.src), model=args.model, deploy=args.deploy)
    torch.save(conversion.checkpoint(meta), args.dst)
    print(f'wrote {args.dst}')


if __name__ == '__main__':
    run_main(main)
