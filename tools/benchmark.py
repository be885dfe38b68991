"""CPU latency benchmarks (medians of interleaved repeats, ratios against a baseline measured in the same run).

    python tools/benchmark.py                 # every suite
    python tools/benchmark.py --suite sepc    # RetinaNet-FPN vs SEPC-lite vs full SEPC, R50, 640x640, batch 1

Timings on shared machines are noisy: models are run round-robin so drift hits all of them alike, and the
ratios, not the absolute times, are what the targets are about.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Callable

import torch

SUITES: dict[str, Callable[[argparse.Namespace], list[dict]]] = {}


def suite(name: str):
    def wrap(fn):
        SUITES[name] = fn
        return fn
    return wrap


def time_round_robin(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, list]:
    """Run each fn ``warmup`` times, then ``repeats`` rounds of all fns in turn; per-fn lists of seconds."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def report(title: str, times: dict[str, list], baseline: str, targets: dict[str, float] | None = None) -> list:
    base = statistics.median(times[baseline])
    print(f'\n{title}')
    print(f'  {"model":<34}{"median ms":>11}{"min ms":>9}{"ratio":>8}  target')
    rows = []
    for name, ts in times.items():
        med = statistics.median(ts)
        ratio = med / base
        target = (targets or {}).get(name)
        verdict = '' if target is None else f'<= {target:.2f}x  {"met" if ratio <= target else "MISSED"}'
        print(f'  {name:<34}{med * 1e3:>11.1f}{min(ts) * 1e3:>9.1f}{ratio:>8.3f}  {verdict}')
        rows.append(dict(name=name, median_s=med, ratio=ratio, target=target))
    return rows


def build_detector(config: str):
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    from convzoo.utils.config import load_config
    cfg = load_config(config)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


@suite('sepc')
def bench_sepc(args) -> list:
    configs = {'RetinaNet-FPN (baseline)': 'configs/retinanet_baseline.py',
               'SEPC-lite RetinaNet': 'configs/sepc_lite_retinanet.py',
               'full SEPC RetinaNet': 'configs/sepc_retinanet.py'}
    size = args.size
    x = torch.randn(1, 3, size, size)
    models = {name: build_detector(cfg) for name, cfg in configs.items()}

    def forward(model):
        return lambda: model(x, mode='tensor')

    with torch.inference_mode():
        times = time_round_robin({n: forward(m) for n, m in models.items()}, args.repeats)
        rows = report(f'Detector latency, R50, {size}x{size}, batch 1, CPU ({torch.get_num_threads()} threads), '
                      f'network forward without post-processing', times, 'RetinaNet-FPN (baseline)',
                      {'SEPC-lite RetinaNet': 1.10, 'full SEPC RetinaNet': 1.25})
        # Where the time goes: the neck+head part, and the cost of mmcv's CPU deformable conv inside SEPC.
        feats = models['RetinaNet-FPN (baseline)'].extract_feat(x)
        sepc_full = models['full SEPC RetinaNet'].neck[1]
        sepc_rigid = build_detector('configs/ibn_pconv_retinanet.py').neck[1]
        sepc_rigid.load_state_dict(sepc_full.state_dict(), strict=False)
        parts = time_round_robin({
            'backbone ResNet-50': lambda: models['full SEPC RetinaNet'].backbone(x),
            'RetinaNet head (4+4 tower convs)': lambda: models['RetinaNet-FPN (baseline)'].bbox_head(feats),
            'SEPC neck, all rigid (iBN+PConv)': lambda: sepc_rigid(feats),
            'SEPC neck, full (DCN at levels>=1)': lambda: sepc_full(feats),
        }, args.repeats)
        rows += report('Parts (same input; the SEPC neck replaces the RetinaNet towers)', parts,
                       'RetinaNet head (4+4 tower convs)')
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--suite', choices=sorted(SUITES), action='append', help='suite(s) to run (default: all)')
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--size', type=int, default=640)
    args = parser.parse_args()
    import convzoo  # noqa: F401
    for name in args.suite or sorted(SUITES):
        SUITES[name](args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
