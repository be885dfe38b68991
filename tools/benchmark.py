"""CPU benchmarks with same-run baselines: ``convzoo benchmark``. Same arguments; see ``--help``."""
from convzoo.cli.benchmark import main
from convzoo.cli.common import run_main

if __name__ == '__main__':
    run_main(main)
