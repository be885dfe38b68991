"""Export a restoration model's network to ONNX (dynamic batch, height, width) and check it with onnxruntime.

    python tools/export_onnx.py CONFIG [CHECKPOINT] OUT.onnx [--check-size 96 128] [--tolerance 1e-4]

Exports ``model.generator``: ESPCN maps Y to Y (the caller converts RGB <-> YCbCr and upsamples the chroma),
MIRNet and DEA-Net map RGB in [0, 1] to RGB; DEA-Net is deployed (DEConvs folded) first. MIRNet and DEA-Net
need height and width divisible by 4 (pad, run, crop). The exported model is run by onnxruntime and PyTorch on
the same random input of --check-size (a size other than the export's, to exercise the dynamic axes).
"""
import argparse

from convzoo.engine.cli import run_main


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('paths', nargs='+', metavar='[CHECKPOINT] OUT', help='optional checkpoint, then the .onnx')
    parser.add_argument('--check-size', type=int, nargs=2, default=(96, 128), metavar=('H', 'W'))
    parser.add_argument('--tolerance', type=float, default=1e-4)
    parser.add_argument('--opset', type=int, default=17)
    args = parser.parse_args()
    if len(args.paths) > 2:
        parser.error('expected [CHECKPOINT] OUT')
    checkpoint, out = (None, args.paths[0]) if len(args.paths) == 1 else args.paths
    import convzoo  # noqa: F401
    from mmengine.registry import init_default_scope

    from convzoo.registry import MODELS
    from convzoo.tasks.restoration.export import export_onnx, max_difference
    from convzoo.utils.checkpoint import load_model_weights
    from convzoo.utils.config import load_config
    cfg = load_config(args.config)
    init_default_scope(cfg.get('default_scope', 'convzoo'))
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
        raise SystemExit(f'error: the difference exceeds the tolerance {args.tolerance}')


if __name__ == '__main__':
    run_main(main)
