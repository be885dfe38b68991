"""``convzoo export``: a restoration model's network to ONNX (dynamic batch, height, width), checked with
onnxruntime.

    convzoo export CONFIG [CHECKPOINT] OUT.onnx [--check-size 96 128] [--tolerance 1e-4]

Exports ``model.generator``: ESPCN maps Y to Y (the caller converts RGB <-> YCbCr and upsamples the chroma),
MIRNet and DEA-Net map RGB in [0, 1] to RGB; DEA-Net is deployed (DEConvs folded) first. MIRNet and DEA-Net
need height and width divisible by 4 (pad, run, crop). The exported model is run by onnxruntime and PyTorch on
the same random input of --check-size (a size other than the export's, to exercise the dynamic axes).
"""
from __future__ import annotations

import argparse

from convzoo.core.errors import ConfigError, ConvzooError


def main(argv=None, prog=None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, usage='%(prog)s CONFIG [CHECKPOINT] OUT',
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='restoration config (or a shipped one: convzoo::espcn/espcn_x3_t91.py)')
    parser.add_argument('paths', nargs='+', metavar='[CHECKPOINT] OUT', help='optional checkpoint, then the .onnx')
    parser.add_argument('--check-size', type=int, nargs=2, default=(96, 128), metavar=('H', 'W'),
                        help='input size of the onnxruntime-vs-PyTorch check')
    parser.add_argument('--tolerance', type=float, default=1e-4, help='largest |difference| accepted')
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset')
    args = parser.parse_args(argv)
    if len(args.paths) > 2:
        parser.error('expected [CHECKPOINT] OUT')
    checkpoint, out = (None, args.paths[0]) if len(args.paths) == 1 else args.paths
    from mmengine.registry import init_default_scope

    import convzoo  # noqa: F401
    from convzoo.core.checkpoint import load_model_weights
    from convzoo.core.config import load_config
    from convzoo.core.registry import MODELS
    from convzoo.deploy.onnx import export_onnx, max_difference
    cfg = load_config(args.config)
    if cfg.get('default_scope') != 'convzoo' or 'generator' not in cfg.get('model', {}):
        raise ConfigError(f'{args.config}: not a restoration config (export covers model.generator of '
                          'RestorationModel configs)')
    init_default_scope('convzoo')
    model = MODELS.build(cfg.model)
    if checkpoint:
        load_model_weights(model, checkpoint, strict=True)
    else:
        print('note: no checkpoint given, exporting the initial weights')
    export_onnx(model.generator, out, opset=args.opset)
    diff = max_difference(model.generator, out, *args.check_size)
    print(f'wrote {out}; onnxruntime vs PyTorch on 1x{args.check_size[0]}x{args.check_size[1]}: '
          f'max |difference| = {diff:.2e}')
    if diff > args.tolerance:
        raise ConvzooError(f'{out}: the difference {diff:.2e} exceeds the tolerance {args.tolerance}')
    return 0
