"""``convzoo export``: a model to ONNX, checked against PyTorch with onnxruntime.

    convzoo export CONFIG [CHECKPOINT] OUT.onnx [--input-size H W] [--tolerance 1e-4]

Detectors with an anchor head (SEPC / RCNet RetinaNet, SSD, Rotated RetinaNet with ARC) and encoder-decoder
segmentors (DeepLab v2 ASPP): the network up to the head's raw outputs, at a fixed input size (from the test
pipeline's Resize unless --input-size), deformable convs through convzoo's torch implementation. The decoding, score
threshold and NMS (or the label-map resizing) are not in the graph: their settings, the class names and the
normalisation are stored in the file's metadata, and ``convzoo.deploy.onnx_runtime.OnnxModel`` applies them
(docs/detection.md, "Export to ONNX").

Restoration models: ``model.generator`` with dynamic batch, height and width. ESPCN maps Y to Y (the caller
converts RGB <-> YCbCr and upsamples the chroma), MIRNet and DEA-Net map RGB in [0, 1] to RGB; DEA-Net is deployed
(DEConvs folded) first; MIRNet and DEA-Net need height and width divisible by 4 (pad, run, crop).

The exported file is run by onnxruntime and PyTorch on the same random input (restoration: of --check-size, another
size than the export's, to exercise the dynamic axes) and the largest difference is printed.
"""
from __future__ import annotations

import argparse

from convzoo.core.errors import ConvzooError


def parse_args(argv, prog):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', metavar='CONFIG', help='config path (or a shipped one: convzoo::ssd/demo/x.py)')
    parser.add_argument('checkpoint', metavar='CHECKPOINT', nargs='?',
                        help='weights to export (left out: the initial weights)')
    parser.add_argument('out', metavar='OUT.onnx', help='the ONNX file to write')
    parser.add_argument('--input-size', type=int, nargs=2, metavar=('H', 'W'),
                        help='detectors and segmentors: the fixed network input (default: from the test pipeline)')
    parser.add_argument('--check-size', type=int, nargs=2, default=(96, 128), metavar=('H', 'W'),
                        help='restoration: input size of the onnxruntime-vs-PyTorch check')
    parser.add_argument('--tolerance', type=float, default=1e-4, help='largest |difference| accepted')
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset (17 or later)')
    return parser.parse_args(argv)


def export_restoration(cfg, checkpoint, args) -> float:
    from mmengine.registry import init_default_scope

    from convzoo.core.checkpoint import load_model_weights
    from convzoo.core.registry import MODELS
    from convzoo.deploy.onnx import export_onnx, max_difference
    init_default_scope('convzoo')
    model = MODELS.build(cfg.model)
    if checkpoint:
        load_model_weights(model, checkpoint, strict=True)
    export_onnx(model.generator, args.out, opset=args.opset)
    diff = max_difference(model.generator, args.out, *args.check_size)
    print(f'wrote {args.out}; onnxruntime vs PyTorch on 1x{args.check_size[0]}x{args.check_size[1]}: '
          f'max |difference| = {diff:.2e}')
    return diff


def export_network(cfg, checkpoint, args) -> float:
    from convzoo.apis.adapters import task_for
    from convzoo.core.checkpoint import load_model_weights
    from convzoo.deploy.model_export import export_model, max_difference
    task = task_for(cfg)
    model = task.build_model()
    task.set_meta(load_model_weights(model, checkpoint, strict=True).get('meta') if checkpoint else None)
    meta = export_model(model, cfg, args.out, task.classes, config=args.config, input_size=args.input_size,
                        opset=args.opset, palette=task.palette)
    diff = max_difference(model, args.out, meta)
    shape = 'x'.join(map(str, meta['input']['shape']))
    print(f'wrote {args.out}: {meta["task"]} network, input {shape}, outputs {", ".join(meta["outputs"])}; '
          f'post-processing settings and {len(meta["classes"])} class names in its metadata')
    print(f'onnxruntime vs PyTorch on a random {shape} input: max |difference| = {diff:.2e}')
    return diff


def main(argv=None, prog=None) -> int:
    args = parse_args(argv, prog)
    import convzoo  # noqa: F401  (registration, compatibility fixes)
    from convzoo.core.config import load_config
    cfg = load_config(args.config)
    restoration = cfg.get('default_scope') == 'convzoo' and 'generator' in cfg.model
    if not args.checkpoint:
        print('note: no checkpoint given, exporting the initial weights')
    diff = (export_restoration if restoration else export_network)(cfg, args.checkpoint, args)
    if diff > args.tolerance:
        raise ConvzooError(f'{args.out}: the difference {diff:.2e} exceeds the tolerance {args.tolerance}')
    return 0
