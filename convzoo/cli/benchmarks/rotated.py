"""ARC suites: ARC-ResNet-50 vs ResNet-50 backbone latency and memory at 1024x1024, and Rotated RetinaNet end to
end (network, box decoding and rotated NMS) with each backbone. Batch 1, CPU, inference mode."""
import json
import subprocess
import sys

import torch

from convzoo.core.benchmark import build_for_timing, report, time_round_robin

SIZE = 1024
BACKBONES = {'ResNet-50': dict(type='ResNet', depth=50, init_cfg=None),
             'ARC-ResNet-50 (stages 2-4, n=4)': dict(type='ARCResNet', depth=50, init_cfg=None)}
DETECTORS = {'Rotated RetinaNet R50-FPN': 'configs/arc/rotated_retinanet_r50_fpn_1x_dota_le90.py',
             'Rotated RetinaNet ARC-R50-FPN': 'configs/arc/arc_rotated_retinanet_r50_fpn_1x_dota_le90.py'}


def build_backbone(cfg: dict) -> torch.nn.Module:
    from mmdet.registry import MODELS
    model = MODELS.build(cfg)
    model.init_weights()
    model.eval()  # mmdet's ResNet.train() returns None, so eval() cannot be chained
    return model


def _status_mb(field: str) -> float:
    with open('/proc/self/status') as f:
        line = next(line for line in f if line.startswith(field + ':'))
    return int(line.split()[1]) / 1024  # kB


def _peak_forward_memory(cfg: dict, size: int) -> tuple[float, float]:
    """Parameter MB and the peak resident memory a forward pass adds above the built model (MB).

    Freed memory that malloc keeps (e.g. from building the model) is returned to the OS first, and the kernel's
    peak-RSS mark is reset, so the peak belongs to the forward pass alone.
    """
    import ctypes

    import convzoo  # noqa: F401
    model = build_backbone(cfg)
    x = torch.randn(1, 3, size, size)
    ctypes.CDLL('libc.so.6').malloc_trim(0)
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset VmHWM to the current RSS
    before = _status_mb('VmRSS')
    with torch.inference_mode():
        model(x)
    params = sum(p.numel() * p.element_size() for p in model.parameters()) / 2 ** 20
    return params, _status_mb('VmHWM') - before


def forward_memory(cfg: dict, size: int = SIZE) -> tuple[float, float]:
    """Measured in a fresh interpreter running this file, so that peaks of earlier work do not count."""
    out = subprocess.run([sys.executable, __file__, json.dumps(cfg), str(size)], capture_output=True, text=True,
                         check=True)
    return tuple(json.loads(out.stdout.strip().splitlines()[-1]))


def bench_arc_backbone(args) -> list:
    x = torch.randn(1, 3, SIZE, SIZE)
    models = {name: build_backbone(cfg) for name, cfg in BACKBONES.items()}
    with torch.inference_mode():
        times = time_round_robin({n: (lambda m=m: m(x)) for n, m in models.items()}, args.repeats)
    rows = report(f'Backbone latency, {SIZE}x{SIZE}, batch 1, CPU ({torch.get_num_threads()} threads)', times,
                  'ResNet-50', {'ARC-ResNet-50 (stages 2-4, n=4)': 1.30})
    print('\n  memory (fresh process each)       params MB   forward peak MB (above the built model)')
    for name, cfg in BACKBONES.items():
        params, peak = forward_memory(cfg)
        print(f'  {name:<34}{params:>9.1f}{peak:>14.1f}')
        rows.append(dict(name=name, params_mb=params, forward_peak_mb=peak))
    return rows


def bench_rotated_retinanet(args) -> list:
    from mmdet.structures import DetDataSample
    x = torch.randn(1, 3, SIZE, SIZE)
    sample = DetDataSample(metainfo=dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE), scale_factor=(1.0, 1.0)))
    models = {name: build_for_timing(cfg) for name, cfg in DETECTORS.items()}
    with torch.inference_mode():
        # a random network scores nothing above 0.05: lower the threshold so NMS sees a realistic load
        for model in models.values():
            model.bbox_head.test_cfg.score_thr = 0.0
        fns = {n: (lambda m=m: m.predict(x, [sample])) for n, m in models.items()}
        times = time_round_robin(fns, args.repeats)
    return report(f'Rotated RetinaNet end to end (network + decoding + rotated NMS, 2000 boxes kept), {SIZE}x{SIZE}, '
                  f'batch 1, CPU ({torch.get_num_threads()} threads)', times, 'Rotated RetinaNet R50-FPN')


SUITES = {'arc': bench_arc_backbone, 'rotated_retinanet': bench_rotated_retinanet}


if __name__ == '__main__':  # child process of forward_memory()
    import logging
    logging.disable(logging.INFO)
    print(json.dumps(_peak_forward_memory(json.loads(sys.argv[1]), int(sys.argv[2]))))
