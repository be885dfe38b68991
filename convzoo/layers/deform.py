"""Deformable convolution (DCNv1 and modulated DCNv2) with two interchangeable implementations.

* ``mmcv``: mmcv's compiled ops (``deform_conv2d``/``modulated_deform_conv2d``). The functional forms fail on inputs
  smaller than the kernel (e.g. P7 of a small image); here such inputs are padded to the kernel size, the offsets
  (and mask) padded to the padded output size, and the result cropped back, for any stride.
* ``torch``: the same sampling written with ``F.grid_sample`` (all kernel taps in one call) and one matrix
  product. Bilinear weights and zero padding are those of mmcv's kernel, so both give the same numbers and
  gradients; on the CPU it is several times faster than mmcv's scalar im2col loop (see tools/benchmarks/sepc.py).

``impl='auto'`` takes ``torch`` for CPU tensors and ``mmcv`` otherwise.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmcv.ops import ModulatedDeformConv2dPack, deform_conv2d, modulated_deform_conv2d
from torch.nn.modules.utils import _pair

IMPLS = ('auto', 'mmcv', 'torch')


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def check_impl(impl: str, what: str = 'deformable conv impl') -> None:
    if impl not in IMPLS:
        raise ValueError(f'{what} must be one of {IMPLS}, got {impl!r}')


def _resolve(impl: str, x: torch.Tensor) -> str:
    check_impl(impl)
    return ('torch' if x.device.type == 'cpu' else 'mmcv') if impl == 'auto' else impl


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
    mask = F.pad(mask, grow).contiguous() if mask is not None else None
    return x.contiguous(), offset.contiguous(), mask, tuple(out_size)


# the torch version samples a (C x taps) x positions column matrix; above CHUNK_MIN_ELEMENTS elements it is built
# and multiplied a band of output rows at a time (about CHUNK_ELEMENTS each), so that each band is still in the
# cache when it is multiplied: the same numbers, ~1.7x faster for a 256-channel 80x80 map on one CPU core
CHUNK_ELEMENTS = 3 << 19
CHUNK_MIN_ELEMENTS = 4 * CHUNK_ELEMENTS


def _deform_torch(x, offset, mask, weight, stride, padding, dilation, groups, deform_groups):
    """Deformable conv by grid_sample: sample every tap of every output position, then one (grouped) matmul."""
    c, taps = x.shape[1], weight.shape[-2] * weight.shape[-1]
    oh, ow = offset.shape[-2:]
    if c * taps * oh * ow <= CHUNK_MIN_ELEMENTS:
        return _deform_rows(x, offset, mask, weight, stride, padding, dilation, groups, deform_groups, 0)
    rows = max(1, CHUNK_ELEMENTS // (c * taps * ow))
    return torch.cat([_deform_rows(x, offset[..., r:r + rows, :], None if mask is None else mask[..., r:r + rows, :],
                                   weight, stride, padding, dilation, groups, deform_groups, r)
                      for r in range(0, oh, rows)], dim=2)


def _deform_rows(x, offset, mask, weight, stride, padding, dilation, groups, deform_groups, row0):
    """Output rows row0 .. row0 + offset.shape[-2] of the deformable conv."""
    n, c, h, w = x.shape
    out_channels, _, kh, kw = weight.shape
    taps = kh * kw
    oh, ow = offset.shape[-2:]
    dtype, device = x.dtype, x.device
    base_y = torch.arange(row0, row0 + oh, dtype=dtype, device=device) * stride[0] - padding[0]
    base_x = torch.arange(ow, dtype=dtype, device=device) * stride[1] - padding[1]
    tap_y = (torch.arange(kh, dtype=dtype, device=device) * dilation[0]).repeat_interleave(kw)
    tap_x = (torch.arange(kw, dtype=dtype, device=device) * dilation[1]).repeat(kh)
    off = offset.reshape(n * deform_groups, taps, 2, oh, ow)  # mmcv layout: [y0, x0, y1, x1, ...] per group
    ys = base_y.view(1, 1, oh, 1) + tap_y.view(1, taps, 1, 1) + off[:, :, 0]
    xs = base_x.view(1, 1, 1, ow) + tap_x.view(1, taps, 1, 1) + off[:, :, 1]
    # pixel coordinate p -> grid_sample's normalised g with align_corners=False (valid for any size, even 1);
    # zeros padding gives out-of-range corners weight 0, exactly mmcv's rule
    grid = torch.stack([(2 * xs + 1) / w - 1, (2 * ys + 1) / h - 1], dim=-1)
    sampled = F.grid_sample(x.reshape(n * deform_groups, c // deform_groups, h, w),
                            grid.reshape(n * deform_groups, taps * oh, ow, 2), mode='bilinear',
                            padding_mode='zeros', align_corners=False)
    sampled = sampled.view(n, deform_groups, c // deform_groups, taps, oh * ow)
    if mask is not None:
        mask = mask.reshape(n, deform_groups, 1, taps, oh * ow)
        if (torch.is_grad_enabled() and (sampled.requires_grad or mask.requires_grad)) \
                or torch.result_type(sampled, mask) != sampled.dtype:
            sampled = sampled * mask
        else:  # no autograd: modulate in place (saves allocating and writing a second column matrix)
            sampled.mul_(mask)
    cols = sampled.reshape(n, groups, (c // groups) * taps, oh * ow)
    out = torch.matmul(weight.reshape(groups, out_channels // groups, -1), cols)
    return out.reshape(n, out_channels, oh, ow)


def deform_conv2d_any_size(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor, stride=1, padding=0,
                           dilation=1, groups: int = 1, deform_groups: int = 1, impl: str = 'auto') -> torch.Tensor:
    """DCNv1 (no bias) that also accepts inputs smaller than the kernel."""
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    if _resolve(impl, x) == 'torch':
        return _deform_torch(x, offset, None, weight, stride, padding, dilation, groups, deform_groups)
    x, offset, _, crop = _pad_to_kernel(x, offset, None, tuple(weight.shape[-2:]), stride, padding, dilation)
    out = deform_conv2d(x, offset.contiguous(), weight, stride, padding, dilation, groups, deform_groups, False)
    return out if crop is None else out[..., :crop[0], :crop[1]].contiguous()


def modulated_deform_conv2d_any_size(x: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor,
                                     weight: torch.Tensor, bias: torch.Tensor | None, stride=1, padding=0,
                                     dilation=1, groups: int = 1, deform_groups: int = 1,
                                     impl: str = 'auto') -> torch.Tensor:
    """DCNv2 (modulated) that also accepts inputs smaller than the kernel."""
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    if _resolve(impl, x) == 'torch':
        out = _deform_torch(x, offset, mask, weight, stride, padding, dilation, groups, deform_groups)
        return out if bias is None else out + bias.view(1, -1, 1, 1)
    x, offset, mask, crop = _pad_to_kernel(x, offset, mask, tuple(weight.shape[-2:]), stride, padding, dilation)
    out = modulated_deform_conv2d(x, offset.contiguous(), mask.contiguous(), weight, bias, stride, padding,
                                  dilation, groups, deform_groups)
    return out if crop is None else out[..., :crop[0], :crop[1]].contiguous()


class DCNv2Pack(ModulatedDeformConv2dPack):
    """mmcv's ``ModulatedDeformConv2dPack`` (``conv_cfg=dict(type='DCNv2')``: same parameters, state_dict keys,
    initialisation and offset/mask layout) whose deformable conv runs through :mod:`convzoo.layers.deform`:
    ``dcn_impl='torch'`` is the grid_sample version (equal values and gradients, several times faster on the CPU),
    ``'mmcv'`` mmcv's compiled op, ``'auto'`` the former for CPU tensors and the latter elsewhere."""

    def __init__(self, *args, dcn_impl: str = 'auto', **kwargs):
        check_impl(dcn_impl, 'DCNv2Pack: dcn_impl')
        super().__init__(*args, **kwargs)
        self.dcn_impl = dcn_impl

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o1, o2, mask = torch.chunk(self.conv_offset(x), 3, dim=1)
        return modulated_deform_conv2d_any_size(x, torch.cat((o1, o2), dim=1), torch.sigmoid(mask), self.weight,
                                                self.bias, self.stride, self.padding, self.dilation, self.groups,
                                                self.deform_groups, impl=self.dcn_impl)
