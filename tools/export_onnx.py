"""Export a detector, segmentor or restoration network to ONNX, checked with onnxruntime: ``convzoo export``.

    python tools/export_onnx.py CONFIG [CHECKPOINT] OUT.onnx [--input-size H W]    (see --help)
"""
from convzoo.cli.common import run_main
from convzoo.cli.export import main

if __name__ == '__main__':
    run_main(main)
