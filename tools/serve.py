"""The local web demo: ``convzoo serve``. Same arguments; see ``--help``."""
from convzoo.cli.common import run_main
from convzoo.cli.serve import main

if __name__ == '__main__':
    run_main(main)
