"""ONNX suite: onnxruntime vs PyTorch latency of SEPC-lite RetinaNet, the demo network (ResNet-18 with 16 base
channels, 64-channel FPN + SEPC-lite, random weights), at the demo size (160 x 160) and at 800 x 1333 (padded to
800 x 1344 as mmdet pads to 32). Both run ``test_step`` on the same packed image: preprocessing, network,
post-processing (decoding, score threshold, NMS); onnxruntime gets as many threads as torch.

    python tools/benchmark.py --suite onnx --threads 1
"""
from __future__ import annotations

import math
import os
import tempfile

import torch

from convzoo.core.benchmark import build_for_timing, report, time_round_robin

CONFIG = 'configs/sepc/demo/sepc_lite_retinanet_demo.py'
IMAGE_SIZES = ((160, 160), (800, 1333))  # (height, width)


def packed_image(height: int, width: int) -> dict:
    """A random image as the test pipeline packs it (no resizing: scale factor 1)."""
    from mmdet.structures import DetDataSample
    image = torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    shape = (height, width)
    return dict(inputs=[image], data_samples=[DetDataSample(metainfo=dict(img_shape=shape, ori_shape=shape,
                                                                          scale_factor=(1.0, 1.0)))])


def time_one_size(model, cfg, folder: str, size: tuple[int, int], args) -> list:
    from convzoo.deploy.model_export import export_model
    from convzoo.deploy.onnx_runtime import OnnxModel
    divisor = model.data_preprocessor.pad_size_divisor
    padded = tuple(int(math.ceil(s / divisor) * divisor) for s in size)
    path = os.path.join(folder, f'sepc_lite_{padded[0]}x{padded[1]}.onnx')
    export_model(model, cfg, path, ('disc', 'rectangle', 'triangle'), config=CONFIG, input_size=padded)
    onnx_model = OnnxModel(path, threads=torch.get_num_threads())
    data = packed_image(*size)
    repeats = args.repeats if max(size) <= 320 else max(3, args.repeats // 2)
    with torch.inference_mode():
        times = time_round_robin({'PyTorch test_step': lambda: model.test_step(data),
                                  'onnxruntime test_step': lambda: onnx_model.test_step(data)}, repeats)
    return report(f'SEPC-lite RetinaNet (demo network), {size[0]}x{size[1]} image (network input '
                  f'{padded[0]}x{padded[1]}), batch 1, CPU ({torch.get_num_threads()} threads): test_step with '
                  'pre- and post-processing', times, 'PyTorch test_step')


def bench_onnx(args) -> list:
    """onnxruntime vs PyTorch at both sizes, then one summary line."""
    from convzoo.core.config import load_config
    cfg = load_config(CONFIG)
    model = build_for_timing(CONFIG)
    rows = []
    with tempfile.TemporaryDirectory(prefix='convzoo-onnx-bench-') as folder:
        for size in IMAGE_SIZES:
            rows.append((size, time_one_size(model, cfg, folder, size, args)))
    parts = [f'{h}x{w}: PyTorch {r[0]["median_s"] * 1e3:.1f} ms, onnxruntime {r[1]["median_s"] * 1e3:.1f} ms '
             f'(ratio {r[1]["ratio"]:.2f})' for (h, w), r in rows]
    print(f'\nonnxruntime vs PyTorch, SEPC-lite RetinaNet demo network, {torch.get_num_threads()} thread(s): '
          + '; '.join(parts))
    return [row for _, r in rows for row in r]


SUITES = {'onnx': bench_onnx}
