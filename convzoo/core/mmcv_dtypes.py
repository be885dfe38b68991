"""Running mmcv's compiled ops on tensors of any floating dtype, as autocast hands them over.

mmcv 2.1's kernels are compiled for float, double and half, half on CUDA only (``AT_DISPATCH_FLOATING_TYPES_AND_HALF``
in its CUDA sources, plain float in most CPU ones): bfloat16 fails everywhere and half on the CPU. Such inputs run the
op in float32 with autocast off (which would cast them straight back) and the result is cast to the low dtype, the
dtype autocast would have given.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

import torch


def unknown_to_mmcv(dtype: torch.dtype, device_type: str) -> bool:
    """Whether mmcv's kernels lack ``dtype`` on ``device_type``."""
    return dtype == torch.bfloat16 or (dtype == torch.float16 and device_type != 'cuda')


def run_in_mmcv_dtype(op: Callable, x: torch.Tensor, *args):
    """``op(x, *args)``, in float32 when a floating tensor among them has a dtype mmcv's kernels lack; the result
    then in that dtype. Arguments that are no tensors (None, numbers) pass through."""
    device_type = x.device.type
    low = next((a.dtype for a in (x, *args) if isinstance(a, torch.Tensor) and unknown_to_mmcv(a.dtype, device_type)),
               None)
    if low is None:
        return op(x, *args)
    with torch.autocast(device_type, enabled=False):
        return op(*(a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a
                    for a in (x, *args))).to(low)


def mmcv_functions_accept_any_dtype() -> None:
    """Route mmcv's NMS function (``batched_nms`` looks it up by name in its module, so every detector's post-processing
    goes through it) and its RoIAlign modules through :func:`run_in_mmcv_dtype`: mmdet's own detectors then predict
    under CPU autocast too (called once by :func:`convzoo.core.compat.apply`)."""
    import importlib

    from mmcv.ops import RoIAlign, RoIAlignRotated
    nms_module = importlib.import_module('mmcv.ops.nms')  # the module: mmcv.ops.nms as an attribute is the function
    if getattr(nms_module.nms, 'any_dtype', False):
        return
    plain_nms = nms_module.nms

    @functools.wraps(plain_nms)
    def nms(boxes, scores, *args, **kwargs):
        if not any(isinstance(t, torch.Tensor) and unknown_to_mmcv(t.dtype, t.device.type) for t in (boxes, scores)):
            return plain_nms(boxes, scores, *args, **kwargs)
        dets, keep = plain_nms(boxes.float(), scores.float(), *args, **kwargs)
        return dets.to(boxes.dtype), keep

    nms.any_dtype = True
    nms_module.nms = nms
    for op in (RoIAlign, RoIAlignRotated):
        plain_forward = op.forward
        op.forward = functools.wraps(plain_forward)(
            lambda self, x, *args, _forward=plain_forward: run_in_mmcv_dtype(
                functools.partial(_forward, self), x, *args))

