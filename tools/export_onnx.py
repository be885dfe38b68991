"""Export a restoration network to ONNX: ``convzoo export``. Same arguments; see ``--help``."""
from convzoo.cli.common import run_main
from convzoo.cli.export import main

if __name__ == '__main__':
    run_main(main)
