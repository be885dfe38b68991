"""``convzoo convert``: official checkpoints into convzoo checkpoints (for ``convzoo test``, the Inferencer).

    convzoo convert rcnet retinanet_r50_rcfpn_epoch_12.pth checkpoints/rcnet_retinanet.pth [--config CFG]
    convzoo convert deanet PSNR4131_SSIM9945.pth checkpoints/deanet_its_deploy.pth   # released weights: deploy form
    convzoo convert deanet 300.pk checkpoints/deanet_its.pth [--deploy]             # a training checkpoint
    convzoo convert mirnet model_denoising.pth checkpoints/mirnet_sidd.pth
    convzoo convert arc arc_resnet50_n4.pth checkpoints/arc_resnet50_n4_imagenet.pth [--prefix backbone.]
    convzoo convert oriented_rcnn oriented_rcnn_r50_fpn_1x_dota_le90.pth checkpoints/oriented_rcnn_r50.pth
    convzoo convert dn_fpn dntr_atss.pth checkpoints/dn_fpn_atss.pth

Every converter prints the source's sha256 and takes ``--sha256 HEX`` to refuse any other file; it reads weights
only and writes atomically. ``convzoo convert MODEL --help`` lists a converter's own options; each is also
``python -m convzoo.converters.<module>``.
"""
from __future__ import annotations

import argparse
import functools
import importlib

CONVERTERS = {  # model -> (module under convzoo.converters, the checkpoints it reads)
    'rcnet': ('rcnet', 'checkpoints trained with TempleX98/RCNet (RCFPN neck)'),
    'deanet': ('restoration', 'cecret3350/DEA-Net: released (deployed) or training checkpoints'),
    'mirnet': ('restoration', 'swz30/MIRNet releases'),
    'arc': ('arc_resnet', 'LeapLabTHU/ARC backbones'),
    'oriented_rcnn': ('oriented_rcnn', "mmrotate's Oriented R-CNN"),
    'dn_fpn': ('dn_fpn', 'hoiliu-0801/DNTR detectors'),
}


def converter(model: str):
    """The ``main(argv, prog)`` of a model's converter."""
    module = importlib.import_module(f'convzoo.converters.{CONVERTERS[model][0]}')
    return functools.partial(module.main, model=model) if CONVERTERS[model][0] == 'restoration' else module.main


def main(argv=None, prog=None) -> int:
    choices = '\n'.join(f'  {name:<14} {what}' for name, (_, what) in CONVERTERS.items())
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, epilog=f'models:\n{choices}',
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('model', choices=list(CONVERTERS), help='whose official checkpoint')
    parser.add_argument('args', nargs=argparse.REMAINDER, help='SRC DST [--sha256 HEX] [options of the converter]')
    args = parser.parse_args(argv)
    converter(args.model)(args.args, prog=f'{prog or "convzoo convert"} {args.model}')
    return 0
