"""Convert official checkpoints: ``convzoo convert``. Same arguments; see ``--help``."""
from convzoo.cli.common import run_main
from convzoo.cli.convert import main

if __name__ == '__main__':
    run_main(main)
