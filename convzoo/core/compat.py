"""Compatibility of the pinned stack (torch 2.13 CPU, mmengine 0.10.7, mmcv 2.1, numpy 2, OpenCV 5).

Everything here patches behaviour at run time from inside convzoo; site-packages are never edited.

* Checkpoints: torch loads with ``weights_only=True``. mmengine pickles its ``HistoryBuffer`` log buffers with
  their statistics *functions*, which unpickle through ``builtins.getattr``; allowing that global would let a
  crafted file reach attributes of any allowed object. convzoo instead pickles a buffer as plain data
  (``HistoryBuffer(list, list, int)``) and allow-lists only data classes. Files that still need anything else
  are refused by :func:`load_checkpoint_file` with an error that names the file and the global.
* ``torchvision://`` weights: torchvision does not work with the CPU torch here, so such a URL fails at once with
  the fix (a local file) instead of an obscure import error.
* Image decoding in data pipelines: mmcv's ``LoadImageFromFile`` asserts that an image decoded; convzoo turns that
  into :class:`~convzoo.core.errors.ImageReadError` naming the file, so the tools report it by type.
* ``pkg_resources``: mmengine's ``Config`` resolves ``mmdet::`` bases with it; setuptools 82 removed it. The pin
  keeps it, and a fallback on ``importlib.metadata`` covers environments that lost it.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os.path as osp
import pickle
import re
import warnings

import numpy as np
import torch

from convzoo.core.errors import CheckpointError, ImageReadError

_applied = False



def _history_buffer_reduce(self):
    # Plain lists of numbers and an int: unpickles with no global but the (allow-listed) class itself.
    return (type(self), (self._log_history.tolist(), self._count_history.tolist(), self.max_length))


def checkpoint_safe_globals() -> list:
    """The globals convzoo checkpoints may contain besides torch's own: data classes only."""
    from mmengine.logging.history_buffer import HistoryBuffer
    dtype_classes = [type(np.dtype(t)) for t in
                     ('float64', 'float32', 'float16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool')]
    return [HistoryBuffer, np.ndarray, np.dtype, np._core.multiarray._reconstruct,
            np._core.multiarray.scalar, *dtype_classes]


def load_checkpoint_file(filename: str, map_location=None):
    """``torch.load`` with ``weights_only=True`` and convzoo's data-only allow-list; clear errors."""
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file {filename} does not exist')
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r'(?:GLOBAL|function|global) ([\w.]+)', str(err))
        what = f'the global {found.group(1)}' if found else 'an object that is not plain data'
        raise CheckpointError(
            f'{filename}: refused to load: the file contains {what}, which could run code when unpickled. '
            'convzoo loads checkpoints with weights_only=True and allows only tensors and plain data. '
            'If you trust the file, re-save its state dict (torch.save(obj["state_dict"], path)) and load that.'
        ) from None
    except Exception as err:  # noqa: BLE001  (truncated files, text files, foreign formats)
        raise CheckpointError(f'{filename}: not a readable PyTorch checkpoint '
                              f'({type(err).__name__}: {err})') from None


def _refuse_torchvision(filename, map_location=None):
    raise CheckpointError(
        f'{filename}: torchvision:// weights cannot be loaded here: torchvision does not work with the CPU torch '
        'build, so convzoo never imports it. Download the weights file once elsewhere and point the config at it, '
        "e.g. init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet50-0676ba61.pth') "
        '(torchvision ResNet files load into mmdet ResNets as they are), or train from scratch with init_cfg=None.')


def _is_installed(package: str) -> bool:
    try:
        importlib.metadata.distribution(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        return spec is not None and spec.origin is not None


def _get_installed_path(package: str) -> str:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise importlib.metadata.PackageNotFoundError(package)
    return osp.dirname(spec.origin)


def _patch_pkg_resources() -> None:
    try:
        import pkg_resources  # noqa: F401
        return
    except ImportError:
        pass
    import mmengine.config.config as config_module
    import mmengine.utils.package_utils as package_utils
    for module in (package_utils, config_module):
        module.is_installed = _is_installed
        module.get_installed_path = _get_installed_path


def _typed_image_errors() -> None:
    from mmcv.transforms import LoadImageFromFile
    original = LoadImageFromFile.transform

    def transform(self, results: dict):
        try:
            return original(self, results)
        except AssertionError:  # mmcv's only signal that the bytes did not decode
            raise ImageReadError(f'{results.get("img_path")}: the image cannot be decoded (corrupt, truncated or '
                                 'not an image)') from None

    LoadImageFromFile.transform = transform


def apply() -> None:
    """Install the compatibility fixes once per process (called by ``import convzoo``)."""
    global _applied
    if _applied:
        return
    from mmengine.logging.history_buffer import HistoryBuffer
    from mmengine.runner.checkpoint import CheckpointLoader
    HistoryBuffer.__reduce__ = _history_buffer_reduce
    CheckpointLoader.register_scheme(prefixes='', loader=load_checkpoint_file, force=True)
    CheckpointLoader.register_scheme(prefixes='torchvision://', loader=_refuse_torchvision, force=True)
    for message in ('.*torch.cuda.amp.*', '.*torch.meshgrid.*', '.*pkg_resources is deprecated.*'):
        warnings.filterwarnings('ignore', message=message)
    _patch_pkg_resources()
    _typed_image_errors()
    _applied = True
