"""convzoo's small C kernel for the CPU deformable conv (``deform_sample.c``), built with the machine's C compiler.

The set-up builds it (``python -m convzoo.layers.native``); otherwise the first deformable conv that wants it does
(about a second). The shared library goes to ``$CONVZOO_NATIVE_CACHE`` (default ``~/.cache/convzoo/native``) under
a name keyed by the source, the compiler, its flags and the CPU (it is built for this CPU's instruction set): written
under a temporary name and renamed when complete, so concurrent builds and interrupted ones leave no partial file.
Without a compiler, or with ``CONVZOO_NATIVE=0``, :func:`deform_sampler` returns None and convzoo's PyTorch path
runs instead (same values, slower).
"""
from __future__ import annotations

import argparse
import ctypes
import functools
import hashlib
import logging
import os
import os.path as osp
import platform
import shutil
import subprocess
import sys
import tempfile

SOURCE = osp.join(osp.dirname(__file__), 'deform_sample.c')
# -ffp-contract=off: no fused multiply-adds, so that every product and sum rounds as in the PyTorch path
FLAGS = ('-O3', '-march=native', '-ffp-contract=off', '-fPIC', '-shared', '-pthread')
logger = logging.getLogger(__name__)


def enabled() -> bool:
    return os.environ.get('CONVZOO_NATIVE', '1') != '0'


def cache_dir() -> str:
    default = osp.join(os.environ.get('XDG_CACHE_HOME') or osp.expanduser('~/.cache'), 'convzoo', 'native')
    return os.environ.get('CONVZOO_NATIVE_CACHE') or default


def compiler() -> str | None:
    return next(filter(None, (shutil.which(c) for c in (os.environ.get('CC', 'cc'), 'gcc', 'clang'))), None)


def _cpu_signature() -> str:
    """What -march=native depends on: the architecture and the CPU's model and feature flags."""
    lines = []
    try:
        with open('/proc/cpuinfo') as f:
            lines = [line for line in f if line.startswith(('model name', 'flags', 'Features'))][:2]
    except OSError:
        pass
    return platform.machine() + ''.join(lines)


def library_path(cc: str) -> str:
    version = subprocess.run([cc, '--version'], capture_output=True, text=True).stdout.split('\n')[0]
    with open(SOURCE, 'rb') as f:
        key = hashlib.sha256(f.read() + repr((version, FLAGS, _cpu_signature())).encode()).hexdigest()[:16]
    return osp.join(cache_dir(), f'deform_sample-{key}.so')


def build() -> str:
    """Compile the kernel unless this machine's build is already cached; return the library's path."""
    cc = compiler()
    if cc is None:
        raise RuntimeError('no C compiler (cc, gcc or clang) on PATH')
    path = library_path(cc)
    if osp.isfile(path):
        return path
    os.makedirs(osp.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix='.so.part', dir=osp.dirname(path))
    os.close(fd)
    try:
        done = subprocess.run([cc, *FLAGS, SOURCE, '-o', tmp, '-lm'], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f'{cc} failed on {SOURCE}:\n{done.stderr.strip()}')
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return path


@functools.lru_cache(maxsize=1)
def deform_sampler():
    """``convzoo_deform_sample`` of the built library (see deform_sample.c for its arguments), or None when it is
    disabled or cannot be built (logged once)."""
    if not enabled():
        return None
    try:
        fn = ctypes.CDLL(build()).convzoo_deform_sample
    except (OSError, RuntimeError) as e:
        logger.warning('convzoo: the C deformable-conv sampler is unavailable (%s); using the PyTorch path', e)
        return None
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int64] * 17 + [ctypes.c_int]
    return fn


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python -m convzoo.layers.native',
                                     description='Build (or find in the cache) the C deformable-conv sampler.')
    parser.parse_args(argv)
    try:
        print(f'convzoo native sampler: {build()}')
    except RuntimeError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    return 0
