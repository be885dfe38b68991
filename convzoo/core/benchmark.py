"""Timing helpers for tools/benchmark.py: round-robin repeats, medians, ratios against a same-run baseline."""
from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def build_for_timing(config: str, default_scope: str = 'mmdet', edit: Callable[[dict], None] | None = None,
                     init_weights: bool = True):
    """The config's model in eval mode with random weights (pretrained ones are not loaded): for timing.

    ``edit(model_cfg)`` may change the model config before it is built; ``init_weights=False`` keeps the
    constructors' initialisation (quicker, no init log)."""
    import importlib

    from mmengine.registry import init_default_scope

    from convzoo.core.config import load_config
    cfg = load_config(config)
    scope = cfg.get('default_scope', default_scope)
    init_default_scope(scope)
    cfg.model.backbone.init_cfg = None
    if edit is not None:
        edit(cfg.model)
    model = importlib.import_module(f'{scope}.registry').MODELS.build(cfg.model)
    if init_weights:
        model.init_weights()
    return model.eval()


@contextmanager
def tables_only() -> Iterator[None]:
    """Hold back INFO logging (mmengine's above all: ``init_weights`` logs how every parameter was initialised, some
    2,000 lines for a ResNet-50 detector) so that a benchmark prints its tables; warnings and errors still show.
    ``logging.disable`` covers loggers created inside too (an Inferencer's, a runner's)."""
    previous = logging.root.manager.disable
    logging.disable(max(previous, logging.INFO))
    _forget_enabled_levels()
    try:
        yield
    finally:
        logging.disable(previous)
        _forget_enabled_levels()


def _forget_enabled_levels() -> None:
    """mmengine's loggers are not in logging's registry, so ``logging.disable`` does not clear the levels they
    remember as enabled (or disabled); ``MMLogger.setLevel`` clears them for every instance."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    logger.setLevel(logger.level)


CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}
clock = CLOCKS['wall']


def use_clock(name: str) -> None:
    """'wall' (latency, default) or 'cpu' (this process's CPU time: steadier on a busy shared machine)."""
    global clock
    clock = CLOCKS[name]


def time_round_robin(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, list]:
    """Run each fn ``warmup`` times, then ``repeats`` rounds of all fns in turn; per-fn lists of seconds.

    Interleaving makes slow drift of a shared machine hit every candidate alike.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return times


def report(title: str, times: dict[str, list], baseline: str, targets: dict[str, float] | None = None,
           lower_is_better: bool = True) -> list[dict]:
    """Print medians and ratios to ``baseline``; a target is a maximum ratio (minimum if not lower_is_better)."""
    base = statistics.median(times[baseline])
    print(f'\n{title}')
    print(f'  {"candidate":<40}{"median ms":>11}{"min ms":>9}{"ratio":>8}  target')
    rows = []
    for name, ts in times.items():
        med = statistics.median(ts)
        ratio = med / base
        target = (targets or {}).get(name)
        verdict = ''
        if target is not None:
            met = ratio <= target if lower_is_better else ratio >= target
            verdict = f'{"<=" if lower_is_better else ">="} {target:.2f}x  {"met" if met else "MISSED"}'
        print(f'  {name:<40}{med * 1e3:>11.2f}{min(ts) * 1e3:>9.2f}{ratio:>8.3f}  {verdict}')
        rows.append(dict(name=name, median_s=med, ratio=ratio, target=target))
    return rows
