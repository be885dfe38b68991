"""Deformable convolution (DCNv1 and modulated DCNv2) with two interchangeable implementations.

The computation is mmcv's (``deform_conv``/``modulated_deform_conv``). For output position p = (y, x), kernel tap
t = (i, j) and input channel c of deform group g (offsets and mask are read from g's channels)::

    h = y*stride_h - pad_h + i*dilation_h + offset[2t, y, x]
    w = x*stride_w - pad_w + j*dilation_w + offset[2t+1, y, x]
    col[p, t, c] = mask[t, y, x] * S(x_c, h, w)                        (DCNv1: mask = 1)
    S = sum_{a, b in {0, 1}} (a ? lh : 1 - lh) (b ? lw : 1 - lw) x_c[h0 + a, w0 + b]   if -1 < h < H and -1 < w < W
      = 0                                                                             otherwise
        with h0 = floor(h), lh = h - h0, w0 = floor(w), lw = w - w0; corners off the map read 0
    out[o, p] = sum_{t, c} weight[o, c, t] col[p, t, c]  (+ bias)      (per conv group)

The gradients are those of this formula with floor() held constant, which is what mmcv's kernels compute
(``get_gradient_weight``/``get_coordinate_weight``): right-sided derivatives for points on whole pixels, and zero
(offset and mask) gradients for points outside (-1, H) x (-1, W).

* ``torch``: the formula in PyTorch. The 4 corner rows and weights of every sampling point (position, tap, deform
  group) are computed once (cheap: there is no channel axis), then ``F.embedding_bag`` forms every sample as the
  weighted sum of 4 rows of a channels-last copy of the input (one fused, vectorised, multi-threaded pass; corners
  off the map get weight 0). Without autograd, the samples of a band of output rows, laid out as an image of
  kh x kw blocks, are convolved with the weight at stride (kh, kw) (oneDNN's direct convolution: the dense conv's
  speed); with autograd they are multiplied with the weight as one matrix, whose backward is faster than the
  strided conv's. Autograd differentiates all of it: embedding_bag's backward scatters the input gradient and gives
  each corner weight's gradient (the dot product of the sampled row with the samples' gradient), from which the
  offset and mask gradients follow through the weights' formula. Any input size works, including inputs smaller
  than the kernel. Without autograd, float32 CPU inputs are sampled by a small C kernel instead
  (:mod:`convzoo.layers.native`, compiled by the set-up): the same weights from the same float32 operations,
  formed per point in one pass over the output and written into a reused band image (the PyTorch sampling costs
  ~1.3x more at 80x80 on one thread); without a C compiler the embedding_bag sampling runs.
* ``mmcv``: mmcv's compiled ops. The functional forms fail on inputs smaller than the kernel (e.g. P7 of a small
  image); here such inputs are padded to the kernel size, the offsets (and mask) padded to the padded output
  size, and the result cropped back, for any stride.

``impl='auto'`` takes ``torch`` for CPU tensors (several times faster than mmcv's scalar CPU loop, see
convzoo/cli/benchmarks/deform.py), ``mmcv`` for CUDA tensors when mmcv's extension was compiled with CUDA kernels,
and ``torch`` on any other device (with one warning per process when a GPU has to do without mmcv's kernel).

Mixed precision: sampling coordinates and bilinear weights are computed in float32 at least (a bfloat16 coordinate
above 128 is off by up to half a pixel), the gather runs in the input's dtype and the product with the weight follows
autocast like any convolution. mmcv's kernels run dtypes they lack in float32 (``convzoo.core.mmcv_dtypes``).
"""
from __future__ import annotations

import functools
import threading
import warnings
import weakref

import torch
import torch.nn.functional as F
from mmcv.ops import ModulatedDeformConv2dPack, deform_conv2d, modulated_deform_conv2d
from torch.nn.modules.utils import _pair

from convzoo.core.mmcv_dtypes import run_in_mmcv_dtype
from convzoo.layers import native

IMPLS = ('auto', 'mmcv', 'torch')


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def check_impl(impl: str, what: str = 'deformable conv impl') -> None:
    if impl not in IMPLS:
        raise ValueError(f'{what} must be one of {IMPLS}, got {impl!r}')


def auto_impl(device_type: str, mmcv_has_cuda: bool) -> str:
    """What ``impl='auto'`` means for tensors on ``device_type``: mmcv's kernel only on CUDA and only when mmcv's
    extension has CUDA kernels (a CPU-only build fails there with 'implementation for device cuda not found');
    convzoo's torch version everywhere else (and on the CPU, where it is several times faster than mmcv's loop)."""
    return 'mmcv' if device_type == 'cuda' and mmcv_has_cuda else 'torch'


@functools.lru_cache(maxsize=1)
def mmcv_has_cuda_ops() -> bool:
    """Whether mmcv's compiled extension was built with CUDA kernels."""
    from mmcv.ops import get_compiling_cuda_version
    return get_compiling_cuda_version() != 'not available'


_fallback_warned = False


def _warn_fallback_once(device_type: str) -> None:
    global _fallback_warned
    if not _fallback_warned:
        _fallback_warned = True  # once per process: a model calls this per layer and per step
        warnings.warn(f"dcn_impl='auto': mmcv's extension has no CUDA kernels, so deformable convs on {device_type} "
                      "run convzoo's torch implementation (same values and gradients, slower than mmcv's kernel); "
                      'rebuild mmcv with CUDA ops (make setup on the GPU machine) to use it', stacklevel=3)


def resolve_impl(impl: str, device_type: str, mmcv_has_cuda: bool | None = None) -> str:
    """``impl`` with 'auto' resolved for ``device_type``; ``mmcv_has_cuda`` defaults to probing mmcv's build."""
    check_impl(impl)
    if impl != 'auto':
        return impl
    if device_type == 'cpu':
        return 'torch'
    chosen = auto_impl(device_type, mmcv_has_cuda_ops() if mmcv_has_cuda is None else mmcv_has_cuda)
    if chosen == 'torch':
        _warn_fallback_once(device_type)
    return chosen


def _resolve(impl: str, x: torch.Tensor) -> str:
    return resolve_impl(impl, x.device.type)


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


# ---------------------------------------------------------------------------------------------------------------
# torch implementation. Sampling points are laid out (n, out_y, kernel_y, out_x, kernel_x, deform_group): gathered
# in this order, the samples form the image that _deform_torch convolves, with no reordering.


def _undeformed(count: int, kernel: int, stride: int, padding: int, dilation: int, like: torch.Tensor):
    """Sampling coordinate of every (output index, tap) along one axis before deformation: exact integers."""
    out_idx = torch.arange(count, device=like.device)[:, None] * stride - padding
    return (out_idx + torch.arange(kernel, device=like.device) * dilation).to(like.dtype)


def _points(offset, kernel, stride, padding, dilation, deform_groups):
    """Deformed sampling coordinates, (2, n, oh, kh, ow, kw, dg): y then x."""
    n, _, oh, ow = offset.shape
    kh, kw = kernel
    off = offset.reshape(n, deform_groups, kh, kw, 2, oh, ow).permute(4, 0, 5, 2, 6, 3, 1)  # mmcv: [y0, x0, y1, ..]
    ys = _undeformed(oh, kh, stride[0], padding[0], dilation[0], offset).view(oh, kh, 1, 1)
    xs = _undeformed(ow, kw, stride[1], padding[1], dilation[1], offset).view(ow, kw)
    base = torch.stack(torch.broadcast_tensors(ys, xs)).view(2, 1, oh, kh, ow, kw, 1)
    return base + off  # the integer base first: the rounding of mmcv's h_in + i * dilation + offset


def _sampling(offset, mask, size, kernel, stride, padding, dilation, deform_groups):
    """Table rows and weights of the 4 corners of every sampling point, each (n, oh, kh * ow * kw * dg, 4).

    Along each axis the corners are floor(coordinate) + (0, 1), with weights (1 - frac, frac), 0 for corners off the
    map (which read 0) and for points outside (-1, size), where mmcv samples nothing; their indices are clamped onto
    the map. floor() is held constant, so the weights' derivatives are mmcv's right-sided ones. Coordinates and
    weights are float32 at least, whatever the offsets' dtype (half or bfloat16 under autocast)."""
    offset = offset.to(torch.promote_types(offset.dtype, torch.float32))
    coords = _points(offset, kernel, stride, padding, dilation, deform_groups)
    (n, _, oh, ow), (h, w) = offset.shape, size
    index_dtype = torch.int32 if n * h * w * deform_groups < 2 ** 31 else torch.int64  # int32 gathers faster
    sizes = torch.tensor(size, device=coords.device, dtype=index_dtype).view(2, 1, 1, 1, 1, 1, 1)
    with torch.no_grad():
        inside = ((coords > -1) & (coords < sizes)).all(dim=0)
        low = torch.where(inside, coords.floor(), -1)  # points outside: any corner will do, their weight is 0
        index = low.to(index_dtype)
        index = torch.stack([index.clamp(min=0), torch.minimum(index + 1, sizes - 1)])  # (corner, axis, ...)
        on_map = torch.stack([low >= 0, low < sizes - 1])
    frac = coords - low
    axis_weights = torch.stack([1 - frac, frac]) * on_map  # (corner, axis, ...)
    scale = inside.to(offset.dtype)
    if mask is not None:
        scale = scale * mask.reshape(n, deform_groups, *kernel, oh, ow).permute(0, 4, 2, 5, 3, 1)
    # the 4 corners (y0, x0), (y0, x1), (y1, x0), (y1, x1) first, so that the elementwise work runs over long
    # contiguous rows; the table row of (image, y, x, group) is ((image * h + y) * w + x) * dg + group
    weights = (axis_weights[:, None, 0] * axis_weights[:, 1]).view(4, *scale.shape) * scale
    rows = (index[:, None, 0] * w + index[:, 1]).view(4, *scale.shape)
    if n > 1:
        rows = rows + torch.arange(n, device=rows.device, dtype=index_dtype).view(n, 1, 1, 1, 1, 1) * (h * w)
    if deform_groups > 1:
        rows = rows * deform_groups + torch.arange(deform_groups, device=rows.device, dtype=index_dtype)
    return tuple(t.view(4, n, oh, -1).permute(1, 2, 3, 0).contiguous() for t in (rows, weights))


def _table(x, deform_groups):
    """The input channels-last: one row of C / deform_groups values per (image, pixel, deform group)."""
    return x.permute(0, 2, 3, 1).contiguous().view(-1, x.shape[1] // deform_groups)  # gathering needs unit stride


def _gather(table, rows, weights):
    """Every sample as the weighted sum of its 4 corner rows: (number of points, C / deform_groups)."""
    if torch.onnx.is_in_onnx_export():
        return _gather_for_export(table, rows, weights)
    return F.embedding_bag(rows.reshape(-1, 4), table, mode='sum',
                           per_sample_weights=weights.reshape(-1, 4).to(table.dtype))


def _gather_for_export(table, rows, weights):
    """:func:`_gather` while exporting to ONNX: embedding_bag exports as an ONNX Loop over the points, which
    onnxruntime runs 2.5x slower (SEPC-lite demo, 160 px); indexing the corner rows (ONNX Gather) and summing them
    in embedding_bag's order gives the same values as plain tensor ops."""
    corners = table.index_select(0, rows.reshape(-1)).view(-1, 4, table.shape[1])
    weights = weights.reshape(-1, 4, 1)
    return (corners[:, 0] * weights[:, 0] + corners[:, 1] * weights[:, 1] + corners[:, 2] * weights[:, 2]
            + corners[:, 3] * weights[:, 3])


_CHANNELS_LAST_WEIGHTS: dict[int, tuple] = {}  # id(weight) -> ((version, data pointer), converted weight)


def _channels_last(weight):
    """The weight in channels-last memory, as the convolution of channels-last samples wants it (PyTorch would
    convert it at every call: 0.5 ms for 256x256x3x3), remembered while the weight lives and is unchanged."""
    if weight.is_contiguous(memory_format=torch.channels_last) or weight.is_inference():  # (no version counter)
        return weight.contiguous(memory_format=torch.channels_last)
    key, cached = (weight._version, weight.data_ptr()), _CHANNELS_LAST_WEIGHTS.get(id(weight))
    if cached is None:
        weakref.finalize(weight, _CHANNELS_LAST_WEIGHTS.pop, id(weight), None)
    if cached is None or cached[0] != key:
        cached = _CHANNELS_LAST_WEIGHTS[id(weight)] = (key, weight.contiguous(memory_format=torch.channels_last))
    return cached[1]


def _conv_of_samples(table, rows, weights, weight, bias, groups, out_width):
    """The deformable conv of the output rows whose sampling arrays are given (n, rows, kh * ow * kw * dg, 4): their
    samples form a channels-last image of rows * kh by ow * kw pixels (sample (y, i, x, j) at pixel
    (y * kh + i, x * kw + j)), and its plain convolution with the weight at stride (kh, kw) is the deformable conv.
    oneDNN's direct convolution does that product at the dense conv's speed (BLAS is 10-30 % slower here)."""
    n, out_rows = rows.shape[:2]
    kh, kw = weight.shape[-2:]
    image = _gather(table, rows, weights).view(n, out_rows * kh, out_width * kw, -1).permute(0, 3, 1, 2)
    weight, bias = (t if t is None else t.to(image.dtype) for t in (weight, bias))  # (autocast casts them anyway)
    return F.conv2d(image, weight, bias, stride=(kh, kw), groups=groups)


def _matmul_of_samples(table, rows, weights, weight, bias, groups, out_width):
    """The same product as :func:`_conv_of_samples` as one matrix product (per conv group) of the samples, one row
    per output position, with the weight: for autograd, whose backward of a matrix product is two more, several
    times faster than the weight gradient of the strided conv."""
    n, out_rows = rows.shape[:2]
    out_channels, group_channels, kh, kw = weight.shape
    positions, taps = n * out_rows * out_width, kh * kw

    def by_position(t):  # (n, oh, kh, ow, kw * dg, 4) -> (n, oh, ow, kh, kw * dg, 4)
        return t.view(n, out_rows, kh, out_width, -1).transpose(2, 3)
    cols = _gather(table, by_position(rows), by_position(weights)).view(positions, taps, groups, group_channels)
    cols = cols.permute(2, 0, 1, 3).reshape(groups, positions, -1)  # a view when groups == 1
    wmat = weight.reshape(groups, -1, group_channels, taps).transpose(2, 3).reshape(groups, -1, taps * group_channels)
    out = torch.matmul(cols, wmat.transpose(1, 2).to(cols.dtype))  # (under autocast both are cast anyway)
    out = out.transpose(0, 1).reshape(n, out_rows, out_width, out_channels)
    if bias is not None:
        out = out + bias.to(out.dtype)
    return out.permute(0, 3, 1, 2).contiguous()


# Without autograd, the output is computed a band of rows at a time, each band's samples (BAND_ELEMENTS values or
# fewer, 16 MB in float32) gathered and convolved while they are still in the cache and in memory the allocator
# reuses: gathering a large map's samples at once costs 1.3-1.5x more (256 channels, 80x80). With autograd they are
# kept for the weight gradient anyway.
BAND_ELEMENTS = 1 << 22
# The C sampler writes into one reused buffer per thread (no fresh pages to fault in), where longer bands win:
# oneDNN's strided convolution of 80 output rows at once is ~15 % faster than of 22 (256 channels, 80x80, 2 threads).
# 32 MB in float32, kept by each thread that ran a deformable conv without autograd.
NATIVE_BAND_ELEMENTS = 1 << 23


def _records_graph(*tensors) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _band_rows(n, c, kh, kw, ow, elements=None) -> int:
    return max(1, (elements or BAND_ELEMENTS) // (n * c * kh * kw * ow))


def _convolve_bands(x, weight, out_size, band, convolve_band):
    """The output (n, out_channels, *out_size), ``band`` rows at a time: ``convolve_band(first_row, rows, weight)``
    with the weight in channels-last memory."""
    (n, out_channels), (oh, ow) = (x.shape[0], weight.shape[0]), out_size
    out, weight = None, _channels_last(weight)
    for r in range(0, oh, band):
        band_out = convolve_band(r, min(band, oh - r), weight)
        if out is None:  # in the convolution's dtype, which autocast chooses
            out = band_out.new_empty(n, out_channels, oh, ow)
        out[:, :, r:r + band] = band_out
    return out if out is not None else x.new_empty(n, out_channels, oh, ow)  # (no output rows)


def _deform_torch(x, offset, mask, weight, bias, stride, padding, dilation, groups, deform_groups):
    """The deformable conv (DCNv2 when ``mask`` is given) of any input size, by the sampling arrays of the whole
    output, then its product with the weight: band by band by convolution, or as one matrix under autograd. Without
    autograd, float32 CPU tensors go to the C sampler when it is built (:func:`_deform_native`)."""
    _check_shapes(x, offset, mask, weight, deform_groups)
    if not _records_graph(x, offset, mask, weight, bias) and _native_applies(x, offset, mask):
        sampler = native.deform_sampler()
        if sampler is not None:
            return _deform_native(sampler, x, offset, mask, weight, bias, stride, padding, dilation, groups,
                                  deform_groups)
    n, c, h, w = x.shape
    kh, kw = weight.shape[-2:]
    oh, ow = offset.shape[-2:]
    table = _table(x, deform_groups)
    rows, weights = _sampling(offset, mask, (h, w), (kh, kw), stride, padding, dilation, deform_groups)
    if _records_graph(x, offset, mask, weight, bias):
        return _matmul_of_samples(table, rows, weights, weight, bias, groups, ow)
    return _convolve_bands(x, weight, (oh, ow), _band_rows(n, c, kh, kw, ow), lambda r, count, wt: _conv_of_samples(
        table, rows[:, r:r + count], weights[:, r:r + count], wt, bias, groups, ow))


def _check_shapes(x, offset, mask, weight, deform_groups) -> None:
    """Offsets (and mask) in mmcv's layout for this kernel: the C sampler reads them by these sizes, unchecked."""
    n, c = x.shape[:2]
    taps = deform_groups * weight.shape[-2] * weight.shape[-1]
    if c % deform_groups:
        raise ValueError(f'deformable conv: {c} input channels do not split into {deform_groups} deform groups')
    for name, t, channels in (('offset', offset, 2 * taps), ('mask', mask, taps)):
        if t is not None and (t.dim() != 4 or tuple(t.shape[:2]) != (n, channels)):
            raise ValueError(f'deformable conv: {name} of shape {tuple(t.shape)}, expected ({n}, {channels}, H, W) '
                             f'for a {weight.shape[-2]}x{weight.shape[-1]} kernel and {deform_groups} deform '
                             'group(s)')
    if mask is not None and mask.shape[-2:] != offset.shape[-2:]:
        raise ValueError(f'deformable conv: mask of shape {tuple(mask.shape)} for offsets of {tuple(offset.shape)}')


def _native_applies(x, offset, mask) -> bool:
    tensors = [t for t in (x, offset, mask) if t is not None]
    return (not torch.onnx.is_in_onnx_export() and all(t.device.type == 'cpu' for t in tensors)
            and all(t.dtype == torch.float32 for t in tensors) and not torch.is_autocast_enabled('cpu'))


_scratch = threading.local()  # per thread: one band image buffer, grown as needed, reused (no page faults per call)


def _band_image(elements: int) -> torch.Tensor:
    buffer = getattr(_scratch, 'image', None)
    if buffer is None or buffer.numel() < elements:
        with torch.inference_mode(False):  # (an inference tensor could not be reused outside inference mode)
            buffer = _scratch.image = torch.empty(elements)
    return buffer[:elements]


def _deform_native(sampler, x, offset, mask, weight, bias, stride, padding, dilation, groups, deform_groups):
    """:func:`_deform_torch` without autograd, its samples formed by deform_sample.c: the same bilinear weights
    from the same float32 operations, computed per point and applied in one pass, straight into a reused band
    image, which is convolved as in :func:`_conv_of_samples`."""
    n, c, h, w = x.shape
    kh, kw = weight.shape[-2:]
    oh, ow = offset.shape[-2:]
    table = x.permute(0, 2, 3, 1).contiguous()
    offset = offset.contiguous()
    mask = mask.contiguous() if mask is not None else None
    threads = torch.get_num_threads()

    def convolve_band(first_row, rows, wt):
        image = _band_image(n * rows * kh * ow * kw * c).view(n, rows * kh, ow * kw, c)
        sampler(table.data_ptr(), offset.data_ptr(), mask.data_ptr() if mask is not None else None,
                image.data_ptr(), n, h, w, c, deform_groups, oh, ow, kh, kw, *stride, *padding, *dilation,
                first_row, rows, threads)
        return F.conv2d(image.permute(0, 3, 1, 2), wt, bias, stride=(kh, kw), groups=groups)
    band = _band_rows(n, c, kh, kw, ow, NATIVE_BAND_ELEMENTS)
    return _convolve_bands(x, weight, (oh, ow), band, convolve_band)


# ---------------------------------------------------------------------------------------------------------------


def deform_conv2d_any_size(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor, stride=1, padding=0,
                           dilation=1, groups: int = 1, deform_groups: int = 1, impl: str = 'auto') -> torch.Tensor:
    """DCNv1 (no bias) that also accepts inputs smaller than the kernel."""
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    if _resolve(impl, x) == 'torch':
        return _deform_torch(x, offset, None, weight, None, stride, padding, dilation, groups, deform_groups)
    x, offset, _, crop = _pad_to_kernel(x, offset, None, tuple(weight.shape[-2:]), stride, padding, dilation)
    out = run_in_mmcv_dtype(lambda *t: deform_conv2d(*t, stride, padding, dilation, groups, deform_groups, False),
                            x, offset.contiguous(), weight)
    return out if crop is None else out[..., :crop[0], :crop[1]].contiguous()


def modulated_deform_conv2d_any_size(x: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor,
                                     weight: torch.Tensor, bias: torch.Tensor | None, stride=1, padding=0,
                                     dilation=1, groups: int = 1, deform_groups: int = 1,
                                     impl: str = 'auto') -> torch.Tensor:
    """DCNv2 (modulated) that also accepts inputs smaller than the kernel."""
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    if _resolve(impl, x) == 'torch':
        return _deform_torch(x, offset, mask, weight, bias, stride, padding, dilation, groups, deform_groups)
    x, offset, mask, crop = _pad_to_kernel(x, offset, mask, tuple(weight.shape[-2:]), stride, padding, dilation)
    out = run_in_mmcv_dtype(lambda *t: modulated_deform_conv2d(*t, stride, padding, dilation, groups, deform_groups),
                            x, offset.contiguous(), mask.contiguous(), weight, bias)
    return out if crop is None else out[..., :crop[0], :crop[1]].contiguous()


class DCNv2Pack(ModulatedDeformConv2dPack):
    """mmcv's ``ModulatedDeformConv2dPack`` (``conv_cfg=dict(type='DCNv2')``: same parameters, state_dict keys,
    initialisation and offset/mask layout) whose deformable conv runs through :mod:`convzoo.layers.deform`:
    ``dcn_impl='torch'`` is the embedding_bag version (equal values and gradients, several times faster on the
    CPU), ``'mmcv'`` mmcv's compiled op, ``'auto'`` the latter for CUDA tensors when mmcv has CUDA kernels and the
    former otherwise."""

    def __init__(self, *args, dcn_impl: str = 'auto', **kwargs):
        check_impl(dcn_impl, 'DCNv2Pack: dcn_impl')
        super().__init__(*args, **kwargs)
        self.dcn_impl = dcn_impl

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o1, o2, mask = torch.chunk(self.conv_offset(x), 3, dim=1)
        return modulated_deform_conv2d_any_size(x, torch.cat((o1, o2), dim=1), torch.sigmoid(mask), self.weight,
                                                self.bias, self.stride, self.padding, self.dilation, self.groups,
                                                self.deform_groups, impl=self.dcn_impl)
