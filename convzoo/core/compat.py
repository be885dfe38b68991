"""Compatibility of the pinned stack (torch 2.13 CPU, mmengine 0.10.7, mmcv 2.1, numpy 2, OpenCV 5).

Everything here patches behaviour at run time from inside convzoo; site-packages are never edited.

* Checkpoints: torch loads with ``weights_only=True``. mmengine pickles its ``HistoryBuffer`` log buffers with
  their statistics *functions*, which unpickle through ``builtins.getattr``; allowing that global would let a
  crafted file reach attributes of any allowed object. convzoo instead pickles a buffer as plain data
  (``HistoryBuffer(list, list, int)``) and allow-lists only data classes. Files that still need anything else
  are refused by :func:`~convzoo.core.safe_load.load_checkpoint_file` with an error that names the file and the
  global. Every scheme of mmengine's checkpoint loader (URLs, model-zoo names, hub cache) goes through the same
  weights-only loading (:mod:`convzoo.core.safe_load`); ``torchvision://`` fails at once with the fix (torchvision
  does not work with the CPU torch here).
* Image decoding in data pipelines: mmcv's ``LoadImageFromFile`` asserts that an image decoded; convzoo turns that
  into :class:`~convzoo.core.errors.ImageReadError` naming the file, so the tools report it by type.
* ``pkg_resources``: mmengine's ``Config`` resolves ``mmdet::`` bases with it; setuptools 82 removed it. The pin
  keeps it, and a fallback on ``importlib.metadata`` covers environments that lost it.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os.path as osp
import warnings

from convzoo.core.errors import ImageReadError
from convzoo.core.mmcv_dtypes import mmcv_functions_accept_any_dtype
from convzoo.core.safe_load import install_loaders

_applied = False



def _history_buffer_reduce(self):
    # Plain lists of numbers and an int: unpickles with no global but the (allow-listed) class itself.
    return (type(self), (self._log_history.tolist(), self._count_history.tolist(), self.max_length))


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
    HistoryBuffer.__reduce__ = _history_buffer_reduce
    install_loaders()
    for message in ('.*torch.cuda.amp.*', '.*torch.meshgrid.*', '.*pkg_resources is deprecated.*'):
        warnings.filterwarnings('ignore', message=message)
    _patch_pkg_resources()
    _typed_image_errors()
    mmcv_functions_accept_any_dtype()  # NMS and RoIAlign under CPU autocast (bfloat16 / half)
    _applied = True
