"""Build convzoo's API reference from its docstrings with pdoc, offline.

    python tools/build_docs.py [OUT_DIR]          # default: build/api (open OUT_DIR/index.html)

Every module of the package is documented (the ``__main__`` entries of ``python -m``, which run their command
when imported, excepted); docstrings are reStructuredText. The pages are written into a temporary folder beside OUT_DIR, which then takes OUT_DIR's
place, so OUT_DIR is never a half-built site and an earlier build stays readable until the new one is complete.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / 'build' / 'api'


def package_modules() -> list[str]:
    """Every module of the package by name. Named one by one because pdoc follows a package's ``__all__``, which
    lists the rooms' classes, not the files that hold them."""
    import pkgutil

    import convzoo
    names = ['convzoo'] + [info.name for info in pkgutil.walk_packages(convzoo.__path__, 'convzoo.')]
    return [name for name in names if name.rpartition('.')[2] != '__main__']  # those run a command when imported


def render_into(folder: Path) -> None:
    """pdoc's HTML for every module into ``folder``; nothing is fetched from the network."""
    import pdoc
    import pdoc.render
    pdoc.render.configure(docformat='restructuredtext', show_source=False, search=True,
                          footer_text='convzoo API reference')
    with warnings.catch_warnings():  # a package without __all__ already brings its files, named again here
        warnings.filterwarnings('ignore', message='.*has already been added', category=UserWarning)
        pdoc.pdoc(*package_modules(), output_directory=folder)


def swap_in(built: Path, out_dir: Path) -> None:
    """Put the finished ``built`` folder at ``out_dir`` by renames, moving an earlier build aside first."""
    previous = None
    if out_dir.exists():
        previous = Path(tempfile.mkdtemp(prefix=f'.{out_dir.name}.old.', dir=out_dir.parent))
        os.replace(out_dir, previous / out_dir.name)
    os.replace(built, out_dir)
    if previous is not None:
        shutil.rmtree(previous)


def build_docs(out_dir: Path) -> Path:
    """Build the reference into ``out_dir`` (atomically) and return the path of its ``index.html``."""
    out_dir = Path(out_dir).resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f'.{out_dir.name}.', dir=out_dir.parent))
    try:
        render_into(work / 'site')
        swap_in(work / 'site', out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out_dir / 'index.html'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('out_dir', nargs='?', default=str(DEFAULT_OUT), help='where the HTML goes')
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))  # document this checkout even when another convzoo is installed
    print(f'API reference: {build_docs(Path(args.out_dir))}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
