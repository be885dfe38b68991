"""Shared fixtures: the repository root, the embedded detection dataset, small CPU settings."""
import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
os.chdir(ROOT)  # configs name data paths relative to the repository root
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

import convzoo  # noqa: E402,F401  (registration and compatibility fixes before any test)


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope='session')
def shapes_root() -> Path:
    """The embedded COCO-format dataset (generated once into data/embedded/coco_shapes, then reused)."""
    from convzoo.tasks.embedded import ensure_embedded
    return ensure_embedded('coco_shapes')


def _run_tool(*args: str, check: bool = True, timeout: int = 600):
    """Run a tools/ script in a subprocess the way a user does; returns the CompletedProcess."""
    import subprocess
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, 'PYTHONWARNINGS': 'ignore', 'OMP_NUM_THREADS': '2'})
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    return proc


@pytest.fixture(scope='session')
def run_tool():
    """``run_tool('tools/train.py', cfg, ...)``: a tools/ script in a subprocess, as a user runs it."""
    return _run_tool
