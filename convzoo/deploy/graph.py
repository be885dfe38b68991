"""Writing a network to an ONNX file: TorchScript tracing at opset 17+, convzoo's torch deformable convolution, the
metadata post-processing needs stored in the file itself, and an atomic write.

Two things keep a traced graph exportable without touching the models:

* deformable convs run on convzoo's torch path (``dcn_impl='torch'``): mmcv's compiled op would become a custom
  ONNX op that onnxruntime rejects (:func:`use_torch_deformable_convs`);
* while exporting, ``F.adaptive_max_pool2d`` is computed bin by bin with slices and maxima
  (:func:`exportable_pooling`): its ONNX symbolic handles only whole-number size ratios with static shapes, but
  RCNet pools pyramid levels to sizes such as 10 -> 3. Maxima are exact, so the values do not change.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import warnings

import torch
import torch.nn.functional as F
from torch import nn

METADATA_KEY = 'convzoo'  # metadata_props entry holding the post-processing description (JSON)
DEFAULT_OPSET = 17


def use_torch_deformable_convs(model: nn.Module) -> int:
    """Switch every module that chooses a deformable-conv implementation to the torch one; the number switched."""
    switched = 0
    for module in model.modules():
        if getattr(module, 'dcn_impl', 'torch') != 'torch':
            module.dcn_impl = 'torch'
            switched += 1
    return switched


def _bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive pooling bins along one axis: [floor(i * size / out), ceil((i + 1) * size / out))."""
    return [(i * size // out, math.ceil((i + 1) * size / out)) for i in range(out)]


def adaptive_max_pool_by_bins(x: torch.Tensor, output_size, return_indices: bool = False) -> torch.Tensor:
    """``F.adaptive_max_pool2d`` as slices and maxima with sizes fixed at trace time (rows first, then columns)."""
    if return_indices:
        raise NotImplementedError('adaptive_max_pool2d with return_indices cannot be exported')
    out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
    h, w = (int(s) for s in x.shape[-2:])
    out_h, out_w = int(out_h or h), int(out_w or w)
    rows = torch.cat([x[..., a:b, :].amax(-2, keepdim=True) for a, b in _bins(h, out_h)], -2)
    return torch.cat([rows[..., a:b].amax(-1, keepdim=True) for a, b in _bins(w, out_w)], -1)


@contextlib.contextmanager
def exportable_pooling():
    """``F.adaptive_max_pool2d`` replaced by :func:`adaptive_max_pool_by_bins` for the duration (modules look it
    up at call time)."""
    original = F.adaptive_max_pool2d
    F.adaptive_max_pool2d = adaptive_max_pool_by_bins
    try:
        yield
    finally:
        F.adaptive_max_pool2d = original


def _temporary_beside(path: str, suffix: str) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{os.path.basename(path)}.', suffix=suffix, dir=folder)
    os.close(fd)
    return tmp


def export_graph(network: nn.Module, example: torch.Tensor, path: str, output_names: list[str],
                 metadata: dict | None = None, dynamic_axes: dict | None = None, opset: int = DEFAULT_OPSET) -> None:
    """Trace ``network`` (in eval mode) on ``example`` into ``path``, with ``metadata`` as JSON under the
    ``convzoo`` metadata_props key. Written under a temporary name, then renamed: never half a file at ``path``.
    (The exporter puts a module back into the mode it found it in, so it must be in eval mode beforehand.)"""
    import onnx
    if opset < DEFAULT_OPSET:
        raise ValueError(f'opset {opset}: convzoo exports at opset {DEFAULT_OPSET} or later')
    network.eval()
    traced = _temporary_beside(path, '.trace')
    final = _temporary_beside(path, '.part')
    try:
        with torch.no_grad(), exportable_pooling(), warnings.catch_warnings():
            # the trace fixes shapes read in Python (band sizes, pyramid sizes): intended, the input size is fixed
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            torch.onnx.export(network, (example,), traced, input_names=['input'], output_names=output_names,
                              dynamic_axes=dynamic_axes, opset_version=opset, dynamo=False)
        proto = onnx.load(traced)
        if metadata is not None:
            onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(metadata)})
        onnx.save(proto, final)
        os.replace(final, path)
    finally:
        for leftover in (traced, final):
            if os.path.exists(leftover):
                os.remove(leftover)


def read_metadata(session) -> dict:
    """The ``convzoo`` metadata of an onnxruntime session's model ({} when the file has none)."""
    text = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    return json.loads(text) if text else {}


def onnx_session(path: str, threads: int | None = None):
    """An onnxruntime CPU session for ``path`` (``threads``: intra-op threads, default onnxruntime's choice)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.log_severity_level = 3  # its graph-optimiser notes are not the user's business
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
