"""Running mmcv's compiled ops on tensors of any floating dtype, as autocast hands them over.

mmcv 2.1's kernels are compiled for float, double and half, half on CUDA only (``AT_DISPATCH_FLOATING_TYPES_AND_HALF``
in its CUDA sources, plain float in most CPU ones): bfloat16 fails everywhere and half on the CPU. Such inputs run the
op in float32 with autocast off (which would cast them straight back) and the result is cast to the low dtype, the
dtype autocast would have given.
"""
from __future__ import annotations

import functools
import types
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


def _forward_in_mmcv_dtype(module: torch.nn.Module, x, *args):
    return run_in_mmcv_dtype(functools.partial(type(module).forward, module), x, *args)


def mmcv_ops_accept_any_dtype(model: torch.nn.Module) -> None:
    """Make every mmcv op module inside ``model`` (RoIAlign of mmdet's RoI extractors, ...) run inputs of a dtype
    its kernels lack through :func:`run_in_mmcv_dtype` (a bound method: copies of the model keep it)."""
    for module in model.modules():
        if type(module).__module__.startswith('mmcv.ops.'):
            module.forward = types.MethodType(_forward_in_mmcv_dtype, module)
