"""What every converter shares: the command line (``SRC DST [--sha256 HEX]``), the source's digest check, the
weights-only read and the atomic write.

The source's sha256 is always printed, so a user can record it (or compare it with a published one); with
``--sha256`` a file whose digest differs is refused before anything is unpickled.
"""
from __future__ import annotations

import argparse
import hashlib
import os.path as osp
import re
import sys
from collections.abc import Callable

from convzoo.core.checkpoint import save_checkpoint_atomic
from convzoo.core.errors import ConversionError, ConvzooError
from convzoo.core.safe_load import load_checkpoint_file

CHUNK_BYTES = 1 << 20


def sha256_hex(value: str) -> str:
    """argparse type of ``--sha256``: 64 hexadecimal digits, compared in lower case."""
    if not re.fullmatch(r'[0-9a-fA-F]{64}', value):
        raise argparse.ArgumentTypeError(f'{value!r} is not a sha256 digest (64 hexadecimal digits)')
    return value.lower()


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b''):
            digest.update(chunk)
    return digest.hexdigest()


def verify_source(path: str, expected: str | None = None) -> str:
    """Print the sha256 of ``path`` and return it; a digest other than ``expected`` is a :class:`ConversionError`
    naming the file and both digests."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint file {path} does not exist')
    actual = file_sha256(path)
    print(f'sha256 {actual}  {path}')
    if expected is not None and actual != expected.lower():
        raise ConversionError(f'{path}: sha256 mismatch: the file has {actual}, --sha256 expects {expected.lower()} '
                              '(a different release, or a damaged download); nothing written')
    return actual


def read_source(path: str, expected_sha256: str | None = None) -> tuple[object, str]:
    """``(checkpoint, sha256)``: the file at ``path`` after the digest check, read weights-only on the CPU."""
    digest = verify_source(path, expected_sha256)
    return load_checkpoint_file(path, 'cpu'), digest


def converter_parser(description: str, prog: str | None = None, models=None) -> argparse.ArgumentParser:
    """``[MODEL] SRC DST [--sha256 HEX]`` (MODEL when one module converts several ``models``); converters add
    their own options."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    if models:
        parser.add_argument('model', choices=sorted(models), help='whose official checkpoint')
    parser.add_argument('src', help='the official checkpoint file')
    parser.add_argument('dst', help='the convzoo checkpoint to write')
    parser.add_argument('--sha256', type=sha256_hex, metavar='HEX',
                        help="refuse the source unless its sha256 is HEX (the source's sha256 is always printed)")
    return parser


def write_checkpoint(checkpoint: dict, dst: str) -> None:
    """Atomic write (temporary name, then rename), so ``dst`` is never a half-written file."""
    save_checkpoint_atomic(checkpoint, dst)
    print(f'wrote {dst}')


def source_meta(src: str, model: str, digest: str | None = None, **extra) -> dict:
    """The ``meta`` of a converted checkpoint: where it came from."""
    meta = dict(converted_from=osp.basename(src), model=model, **extra)
    if digest:
        meta['source_sha256'] = digest
    return meta


def run_as_script(main: Callable[[], object]) -> None:
    """``python -m convzoo.converters.<name>``: a user error is one ``error:`` line and exit status 1, as under
    ``convzoo convert`` (the CLI room cannot be imported from here)."""
    try:
        main()
    except (ConvzooError, FileNotFoundError) as err:
        sys.exit(f'error: {err}')
