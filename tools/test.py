"""Evaluate a checkpoint on a config's test set: ``convzoo test``. Same arguments; see ``--help``."""
from convzoo.cli.common import run_main
from convzoo.cli.test import main

if __name__ == '__main__':
    run_main(main)
