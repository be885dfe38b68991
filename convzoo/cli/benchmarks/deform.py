"""Deformable conv suite: one layer, 256 -> 256 channels, 3x3, batch 1, on 80x80, 40x40 and 20x20 maps (P3-P5 of a
640x640 image), CPU. Each DCN is timed against a dense 3x3 ``F.conv2d`` of the same shape in the same run:
forward (inference) and forward + backward (training, gradients for input, offsets, mask and weight).

    python tools/benchmark.py --suite deform

Offsets are random (N(0, 1) pixels), masks uniform. The conv that predicts them is not included: 256 -> 18 channels
(DCNv1, SEPC) costs 10-20 % of the dense conv on the CPU, 256 -> 54 (DCNv2 with 2 deform groups, RCNet) 25-30 %.
"""
import torch
import torch.nn.functional as F

from convzoo.core.benchmark import report, time_round_robin
from convzoo.layers.deform import deform_conv2d_any_size, modulated_deform_conv2d_any_size

CHANNELS = 256
SIZES = (80, 40, 20)
DENSE = 'dense 3x3 conv (baseline)'


def _layer_tensors(size: int, train: bool) -> dict:
    g = torch.Generator().manual_seed(size)
    tensors = {'x': torch.randn(1, CHANNELS, size, size, generator=g),
               'weight': torch.randn(CHANNELS, CHANNELS, 3, 3, generator=g) * 0.02,
               'offset': torch.randn(1, 18, size, size, generator=g),
               'mask': torch.rand(1, 9, size, size, generator=g)}
    return {k: t.requires_grad_(train) for k, t in tensors.items()}


def _candidates(t: dict, train: bool) -> dict:
    """name -> fn computing the layer (and its backward when training)."""
    def run(fn):
        def call():
            out = fn()
            if train:
                out.sum().backward()
        return call
    cands = {DENSE: run(lambda: F.conv2d(t['x'], t['weight'], padding=1)),
             'DCNv1 (convzoo torch, default on CPU)':
                 run(lambda: deform_conv2d_any_size(t['x'], t['offset'], t['weight'], padding=1)),
             'DCNv2 (convzoo torch, default on CPU)':
                 run(lambda: modulated_deform_conv2d_any_size(t['x'], t['offset'], t['mask'], t['weight'], None,
                                                              padding=1))}
    if not train:  # mmcv's scalar CPU loop, for reference (its backward is far slower still)
        cands['DCNv1, mmcv kernel'] = run(lambda: deform_conv2d_any_size(t['x'], t['offset'], t['weight'], padding=1,
                                                                         impl='mmcv'))
    return cands


def bench_deform(args) -> list:
    rows = []
    for train in (False, True):
        for size in SIZES:
            tensors = _layer_tensors(size, train)
            with torch.inference_mode(not train):
                times = time_round_robin(_candidates(tensors, train), args.repeats)
            targets = None if train else {name: 2.0 for name in times if name.endswith('default on CPU)')}
            rows += report(f'{"Forward + backward" if train else "Forward (inference)"}, {CHANNELS} -> {CHANNELS}, '
                           f'{size}x{size}, batch 1, CPU ({torch.get_num_threads()} threads): DCN / dense 3x3 conv',
                           times, DENSE, targets)
    return rows


SUITES = {'deform': bench_deform}
