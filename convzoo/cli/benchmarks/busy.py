"""Busy-machine suite: how much a convzoo run slows down beside another busy process, with the old thread defaults
and with convzoo's (``convzoo.core.threads``).

    convzoo benchmark --suite busy [--repeats 5] [--busy-workloads crf,inferencer]

Workloads: one training step of the SEPC-lite demo detector (batch 8, 160 px), the dense CRF at 512x1024 (19
classes, 10 iterations; pydensecrf2 beside it when installed) and the Inferencer on a 512x512 photograph. Each
runs in a fresh interpreter (the OpenMP settings are read once, when torch starts), on its own ("idle") and right
after beside a competing process that multiplies matrices on 2 threads without pause ("busy"). Settings:

* old defaults: ``OMP_WAIT_POLICY`` unset (libgomp's threads spin up to 300,000 polls before sleeping), torch's
  thread count (the physical cores);
* convzoo's defaults: what ``convzoo.core.threads.apply_env_defaults`` adds (a few microseconds of spinning, then
  sleep).

The table gives per workload and setting the idle and busy medians, the slowdown (busy / idle) and that slowdown
over the fair share: a run using ``t`` threads beside a competitor using 2, on ``c`` cores, gets at best
``min(t, c) / min(c * t / (t + 2), t)`` times its idle time, 2x for 2 threads on 2 cores. 1.0 is fair.
"""
from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time

from convzoo.core.threads import USER_WAIT_SETTINGS, apply_env_defaults

DEMO = 'configs/sepc/demo/sepc_lite_retinanet_demo.py'
COMPETITOR_THREADS = 2
COMPETITOR = ('import torch\ntorch.set_num_threads({threads})\na = torch.randn(1024, 1024)\n'
              'while True:\n    a = torch.mm(a, a).tanh_()\n')


# ------------------------------------------------------------------------------------------- workloads (child side)


def demo_train_step():
    """One SGD step of the SEPC-lite demo detector on 8 random 160 px images with 3 boxes each."""
    import torch
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    from mmengine.registry import init_default_scope

    from convzoo.core.config import load_config
    init_default_scope('mmdet')
    torch.manual_seed(0)
    cfg = load_config(DEMO)
    model = MODELS.build(cfg.model).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    packed = demo_mm_inputs(batch_size=8, image_shapes=(3, 160, 160), num_items=[3] * 8,
                            num_classes=cfg.model.bbox_head.num_classes)
    data = model.data_preprocessor(packed, True)

    def step():
        loss, _ = model.parse_losses(model(**data, mode='loss'))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def dense_crf():
    from convzoo.cli.benchmarks.segmentation import benchmark_inputs
    from convzoo.layers.dense_crf import DenseCRF
    image, probs = benchmark_inputs()
    crf = DenseCRF()
    return lambda: crf(probs, image)


def pydensecrf2():
    from convzoo.cli.benchmarks.segmentation import benchmark_inputs, pydensecrf_baseline
    image, probs = benchmark_inputs()
    return pydensecrf_baseline(probs, image)


def inferencer():
    """The Inferencer with the demo config (random weights) on a 512x512 photograph: read, resize, predict, boxes."""
    import cv2

    from convzoo.apis import Inferencer
    from convzoo.core.embedded import bundled_photos
    infer = Inferencer(DEMO, None, score_thr=0.3)
    image = cv2.resize(bundled_photos()['astronaut'], (512, 512))
    return lambda: infer(image)


WORKLOADS = {'demo': ('SEPC-lite demo train step (batch 8)', demo_train_step),
             'crf': ('dense CRF 512x1024, convzoo', dense_crf),
             'pydensecrf2': ('dense CRF 512x1024, pydensecrf2', pydensecrf2),
             'inferencer': ('Inferencer, one 512x512 image', inferencer)}


def time_workload(key: str, repeats: int) -> dict:
    """Child process: build the workload, run it once to warm up, then ``repeats`` timed runs (wall clock)."""
    import torch

    from convzoo.core.benchmark import tables_only
    with tables_only():
        run = WORKLOADS[key][1]()
        run()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return dict(times=times, threads=1 if key == 'pydensecrf2' else torch.get_num_threads())  # (no OpenMP there)


# ------------------------------------------------------------------------------------------- scenarios (parent side)


def old_env(base: dict) -> dict:
    """The environment as before convzoo's defaults: every OpenMP wait setting removed (libgomp spins), the rest
    (``OMP_NUM_THREADS`` included) as the user has it."""
    return {name: value for name, value in base.items() if name not in USER_WAIT_SETTINGS}


def new_env(base: dict) -> dict:
    """``old_env`` plus what convzoo's command-line entry points add."""
    env = old_env(base)
    apply_env_defaults(env)
    return env


def run_child(key: str, repeats: int, env: dict) -> dict:
    proc = subprocess.run([sys.executable, '-m', __name__, key, str(repeats)], env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f'busy suite: workload {key!r} failed:\n{proc.stderr[-2000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Competitor:
    """A process multiplying 1024x1024 matrices on 2 threads until stopped (its own default environment)."""

    def __enter__(self):
        env = dict(os.environ, OMP_NUM_THREADS=str(COMPETITOR_THREADS))
        self.proc = subprocess.Popen([sys.executable, '-c', COMPETITOR.format(threads=COMPETITOR_THREADS)], env=env)
        time.sleep(3)  # past its start-up: importing torch is not the load we mean
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()


def fair_slowdown(threads: int, cores: int, competitor_threads: int = COMPETITOR_THREADS) -> float:
    """The slowdown a ``threads``-thread run would see beside a ``competitor_threads``-thread one if the cores were
    shared in proportion to the threads."""
    share = cores * threads / (threads + competitor_threads)  # cores this run gets
    return min(threads, cores) / min(share, threads)


SETTINGS = {'old defaults (spin-wait)': old_env, 'convzoo defaults': new_env}


def _runs(keys: list[str]) -> list[tuple[str, str]]:
    """(workload, setting) pairs, by workload; pydensecrf2 runs no OpenMP, so once (with convzoo's defaults)."""
    return [(key, setting) for key in keys for setting in SETTINGS
            if key != 'pydensecrf2' or setting == 'convzoo defaults']


def _row(key: str, setting: str, idle: dict, busy: dict) -> dict:
    idle_s, busy_s = statistics.median(idle['times']), statistics.median(busy['times'])
    fair = fair_slowdown(idle['threads'], os.cpu_count() or 1)
    return dict(workload=WORKLOADS[key][0], setting=setting, threads=idle['threads'], idle_s=idle_s, busy_s=busy_s,
                slowdown=busy_s / idle_s, fair=fair, over_fair=busy_s / idle_s / fair)


def measure(keys: list[str], repeats: int) -> list[dict]:
    """Each run idle and right after beside the competitor (started afresh), so that the drift of a shared machine
    changes both alike."""
    results = {}
    for key, setting in _runs(keys):
        for load in ('idle', 'busy'):
            print(f'  ... {WORKLOADS[key][0]}, {setting}, {load}', flush=True)
            with Competitor() if load == 'busy' else contextlib.nullcontext():
                results[key, setting, load] = run_child(key, repeats, SETTINGS[setting](os.environ))
    return [_row(key, setting, results[key, setting, 'idle'], results[key, setting, 'busy'])
            for key, setting in _runs(keys)]


def print_rows(rows: list[dict]) -> None:
    print(f'\nBusy machine: each workload alone (idle) and beside a {COMPETITOR_THREADS}-thread matrix-multiplying '
          f'process (busy), {os.cpu_count()} cores; medians, wall clock')
    print(f'  {"workload":<36}{"setting":<26}{"threads":>8}{"idle s":>9}{"busy s":>9}{"slowdown":>10}'
          f'{"fair":>6}{"/ fair":>8}')
    for r in rows:
        print(f'  {r["workload"]:<36}{r["setting"]:<26}{r["threads"]:>8}{r["idle_s"]:>9.3f}{r["busy_s"]:>9.3f}'
              f'{r["slowdown"]:>9.2f}x{r["fair"]:>5.1f}x{r["over_fair"]:>7.2f}x')


def crf_against_pydensecrf(rows: list[dict]) -> None:
    """convzoo's CRF with its defaults vs pydensecrf2, idle and busy."""
    by = {(r['workload'], r['setting']): r for r in rows}
    ours, theirs = by.get((WORKLOADS['crf'][0], 'convzoo defaults')), by.get((WORKLOADS['pydensecrf2'][0],
                                                                              'convzoo defaults'))
    if ours and theirs:
        for load in ('idle', 'busy'):
            ratio = ours[f'{load}_s'] / theirs[f'{load}_s']
            print(f'  dense CRF, convzoo defaults / pydensecrf2, {load}: {ratio:.2f}x '
                  f'(target <= 1.00: {"met" if ratio <= 1 else "MISSED"})')


def workload_list(text: str) -> list[str]:
    """``--busy-workloads`` ('crf,inferencer'): the names, checked."""
    import argparse
    names = [name.strip() for name in text.split(',') if name.strip()]
    unknown = [name for name in names if name not in WORKLOADS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f'unknown workload(s) {", ".join(unknown) or "(none given)"}; '
                                         f'choose from {",".join(WORKLOADS)}')
    return names


def available_workloads() -> list[str]:
    import importlib.util
    return [k for k in WORKLOADS if k != 'pydensecrf2' or importlib.util.find_spec('pydensecrf') is not None]


def bench_busy(args) -> list:
    keys = getattr(args, 'busy_workloads', None) or available_workloads()
    rows = measure(keys, max(args.repeats, 1))
    print_rows(rows)
    crf_against_pydensecrf(rows)
    return rows


SUITES = {'busy': bench_busy}


if __name__ == '__main__':  # a child: python -m convzoo.cli.benchmarks.busy WORKLOAD REPEATS
    print(json.dumps(time_workload(sys.argv[1], int(sys.argv[2]))))
