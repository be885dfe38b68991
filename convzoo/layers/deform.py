"""Deformable convolution helpers on top of mmcv's compiled ops.

mmcv's functional ``deform_conv2d``/``modulated_deform_conv2d`` fail when the input is smaller than the kernel
(e.g. P7 of a small image). The module forms pad such inputs; these functions do the same for any stride: pad the
input to the kernel size, pad the offsets (and mask) to the padded output size, crop the result back.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmcv.ops import deform_conv2d, modulated_deform_conv2d
from torch.nn.modules.utils import _pair


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _pad_to_kernel(x, offset, mask, kernel, stride, padding, dilation):
    """Pad a too-small input (and its offsets/mask) so mmcv's kernel accepts it; return the crop size."""
    kh, kw = kernel
    h, w = x.shape[-2:]
    pad_h, pad_w = max(kh - h, 0), max(kw - w, 0)
    out_size = offset.shape[-2:]
    if pad_h == 0 and pad_w == 0:
        return x, offset, mask, None
    x = F.pad(x, (0, pad_w, 0, pad_h))
    padded_out = [conv_output_size(s, k, st, p, d)
                  for s, k, st, p, d in zip(x.shape[-2:], kernel, stride, padding, dilation)]
    grow = (0, padded_out[1] - out_size[1], 0, padded_out[0] - out_size[0])
    offset = F.pad(offset, grow)
    mask = F.pad(mask, grow) if mask is not None else None
    return x.contiguous(), offset.contiguous(), mask, tuple(out_size)


def deform_conv2d_any_size(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor, stride=1, padding=0,
                           dilation=1, groups: int = 1, deform_groups: int = 1) -> torch.Tensor:
    """DCNv1 (``mmcv.ops.deform_conv2d``, no bias) that also accepts inputs smaller than the kernel."""
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    kernel = tuple(weight.shape[-2:])
    x, offset, _, crop = _pad_to_kernel(x, offset, None, kernel, stride, padding, dilation)
    out = deform_conv2d(x, offset.contiguous(), weight, stride, padding, dilation, groups, deform_groups, False)
    return out if crop is None else out[..., :crop[0], :crop[1]].contiguous()


def modulated_deform_conv2d_any_size(x: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor,
                                     weight: torch.Tensor, bias: torch.Tensor | None, stride=1, padding=0,
                                     dilation=1, groups: int = 1, deform_groups: int = 1) -> torch.Tensor:
    """DCNv2 (``mmcv.ops.modulated_deform_conv2d``) that also accepts inputs smaller than the kernel."""
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    kernel = tuple(weight.shape[-2:])
    x, offset, mask, crop = _pad_to_kernel(x, offset, mask, kernel, stride, padding, dilation)
    out = modulated_deform_conv2d(x, offset.contiguous(), mask.contiguous(), weight, bias, stride, padding,
                                  dilation, groups, deform_groups)
    return out if crop is None else out[..., :crop[0], :crop[1]].contiguous()
