"""``python -m convzoo <command>``: the same as the ``convzoo`` console command."""
from convzoo.cli.main import main

main()
