"""``convzoo benchmark``: CPU benchmarks, medians of interleaved repeats, printed as ratios against a baseline
measured in the same run.

    convzoo benchmark                  # every suite
    convzoo benchmark --suite sepc     # one suite (see --help for the list)

Suites live in ``convzoo/cli/benchmarks/<topic>.py``, each defining ``SUITES = {name: fn(args)}``. Timings on
shared machines are noisy; the ratios, not the absolute times, are what the targets are about.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil

import convzoo.cli.benchmarks as suites_package
from convzoo.cli.benchmarks.busy import WORKLOADS, workload_list


def load_suites() -> dict:
    suites = {}
    for info in pkgutil.iter_modules(suites_package.__path__):
        suites.update(getattr(importlib.import_module(f'{suites_package.__name__}.{info.name}'), 'SUITES', {}))
    return suites


def main(argv=None, prog=None) -> int:
    import convzoo  # noqa: F401  (registration, compatibility fixes)
    suites = load_suites()
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--suite', choices=sorted(suites), action='append', help='suite(s) to run (default: all)')
    parser.add_argument('--repeats', type=int, default=7, help='timed rounds per candidate (median reported)')
    parser.add_argument('--threads', type=int, help='torch CPU threads (default: torch\'s choice)')
    parser.add_argument('--memory-size', type=int, default=6000, help='memory suite: image side in pixels')
    parser.add_argument('--clock', choices=['wall', 'cpu'], default='wall',
                        help='wall: latency (default); cpu: process CPU time, steadier on a busy machine')
    parser.add_argument('--busy-workloads', type=workload_list,
                        help='busy suite: a comma-separated subset of ' + ','.join(WORKLOADS))
    args = parser.parse_args(argv)
    import torch

    from convzoo.core.benchmark import tables_only, use_clock
    if args.threads:
        torch.set_num_threads(args.threads)
    use_clock(args.clock)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} thread(s), clock: {args.clock}', flush=True)
    for name in args.suite or sorted(suites):
        with tables_only():
            suites[name](args)
    return 0
