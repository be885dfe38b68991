"""CPU benchmarks: medians of interleaved repeats, printed as ratios against a baseline measured in the same run.

    python tools/benchmark.py                  # every suite
    python tools/benchmark.py --suite sepc     # one suite (see --help for the list)

Suites live in tools/benchmarks/<topic>.py, each defining ``SUITES = {name: fn(args)}``. Timings on shared
machines are noisy; the ratios, not the absolute times, are what the targets are about.
"""
import argparse
import importlib.util
import sys
from pathlib import Path


def load_suites() -> dict:
    suites = {}
    paths = [*(Path(__file__).parent / 'benchmarks').glob('*.py'),
             *(Path(__file__).parents[1] / 'convzoo' / 'cli' / 'benchmarks').glob('[!_]*.py')]
    for path in sorted(paths):
        spec = importlib.util.spec_from_file_location(f'convzoo_benchmarks_{path.stem}', path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        suites.update(getattr(module, 'SUITES', {}))
    return suites


def main() -> int:
    import convzoo  # noqa: F401  (registration, compatibility fixes)
    suites = load_suites()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--suite', choices=sorted(suites), action='append', help='suite(s) to run (default: all)')
    parser.add_argument('--repeats', type=int, default=7, help='timed rounds per candidate (median reported)')
    parser.add_argument('--threads', type=int, help='torch CPU threads (default: torch\'s choice)')
    parser.add_argument('--clock', choices=['wall', 'cpu'], default='wall',
                        help='wall: latency (default); cpu: process CPU time, steadier on a busy machine')
    args = parser.parse_args()
    import torch

    from convzoo.core.benchmark import use_clock
    if args.threads:
        torch.set_num_threads(args.threads)
    use_clock(args.clock)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} thread(s), clock: {args.clock}')
    for name in args.suite or sorted(suites):
        suites[name](args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
