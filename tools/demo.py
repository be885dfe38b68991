"""The main job of ``make demo`` (and ``--task rotated``): ``convzoo demo``. Same arguments; see ``--help``."""
from convzoo.cli.common import run_main
from convzoo.cli.demo import main

if __name__ == '__main__':
    run_main(main)
