"""Run a model on an image, folder, glob or video: ``convzoo infer``. Same arguments; see ``--help``."""
from convzoo.cli.common import run_main
from convzoo.cli.infer import main

if __name__ == '__main__':
    run_main(main)
