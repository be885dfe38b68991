"""Train a model from a config (mmdet's CLI conventions): ``convzoo train``. Same arguments; see ``--help``."""
from convzoo.cli.common import run_main
from convzoo.cli.train import main

if __name__ == '__main__':
    run_main(main)
