"""The command line: ``convzoo <command>`` (also ``python -m convzoo``), and the scripts in ``tools/`` that call the
same entry points with the same arguments."""
