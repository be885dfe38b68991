"""Demo configs trained beside their baselines: ``convzoo compare-demos``. Same arguments; see ``--help``."""
from convzoo.cli.common import run_main
from convzoo.cli.compare_demos import main

if __name__ == '__main__':
    run_main(main)
