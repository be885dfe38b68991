"""SEPC: Scale-Equalizing Pyramid Convolution (Wang et al., "Scale-Equalizing Pyramid Convolution for Object
Detection", CVPR 2020).

A neck placed after an FPN (P3-P7). Each PConv layer mixes every level with its two neighbours using three 3x3
kernels shared across levels::

    y_l = w1(x_l) + [l > 0] w2_stride2(x_{l-1}) + [l < L-1] up_bilinear(w0(x_{l+1}))

then (optionally) integrated BN over all levels and ReLU. The convs at levels >= 1 may be deformable (DCNv1 with
zero-initialised offsets), the lowest level always keeps the rigid kernel, so the kernel is "scale-equalised".
After the PConv stack one extra conv per branch (``cls_conv``/``reg_conv``) feeds a combined RetinaNet-style head
(:class:`convzoo.heads.SEPCRetinaHead`), which receives a ``(cls_feat, reg_feat)`` pair per level.
"""
from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import nn

from convzoo.layers.deform import deform_conv2d_any_size
from convzoo.layers.integrated_norm import integrated_norm


class SEPCConv(nn.Module):
    """3x3 conv whose weight is shared by a rigid path (levels below ``start_level``) and a DCNv1 path."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 padding: int = 1, dilation: int = 1, part_deform: bool = False, start_level: int = 1,
                 dcn_impl: str = 'auto'):
        super().__init__()
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.part_deform, self.start_level, self.dcn_impl = part_deform, start_level, dcn_impl
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        if part_deform:
            self.conv_offset = nn.Conv2d(in_channels, 2 * kernel_size * kernel_size, kernel_size, stride,
                                         padding, dilation, bias=True)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight, 0, 0.01)
        nn.init.zeros_(self.bias)
        if self.part_deform:  # zero offsets: the deformable path starts as the rigid conv
            nn.init.zeros_(self.conv_offset.weight)
            nn.init.zeros_(self.conv_offset.bias)

    def is_deformable_at(self, level: int) -> bool:
        return self.part_deform and level >= self.start_level

    def forward(self, level: int, x: torch.Tensor) -> torch.Tensor:
        if not self.is_deformable_at(level):
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)
        out = deform_conv2d_any_size(x, self.conv_offset(x), self.weight, self.stride, self.padding,
                                     self.dilation, impl=self.dcn_impl)
        return out + self.bias.view(1, -1, 1, 1)


class PConv(nn.Module):
    """One pyramid convolution layer over all levels (optional iBN, then ReLU)."""

    def __init__(self, channels: int, part_deform: bool, start_level: int, norm_cfg: dict | None,
                 dcn_impl: str = 'auto'):
        super().__init__()
        conv = dict(part_deform=part_deform, start_level=start_level, dcn_impl=dcn_impl)
        self.up_conv = SEPCConv(channels, channels, **conv)  # w0: on the next coarser level, then upsampled
        self.lateral_conv = SEPCConv(channels, channels, **conv)  # w1: same level
        self.down_conv = SEPCConv(channels, channels, stride=2, **conv)  # w2: on the next finer level
        self.norm = build_norm_layer(norm_cfg, channels)[1] if norm_cfg else None

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        outs = []
        for level, x in enumerate(feats):
            y = self.lateral_conv(level, x)
            if level > 0:
                y = y + self.down_conv(level, feats[level - 1])
            if level < len(feats) - 1:
                coarser = self.up_conv(level, feats[level + 1])
                y = y + F.interpolate(coarser, size=y.shape[-2:], mode='bilinear', align_corners=True)
            outs.append(y)
        if self.norm is not None:
            outs = integrated_norm(outs, self.norm)
        return [F.relu(y) for y in outs]


# Official SEPC checkpoint names -> convzoo names (regex on the key suffix after the module prefix).
_LEGACY_KEYS = [
    (r'^Pconvs\.(\d+)\.Pconv\.0\.', r'pconvs.\1.up_conv.'),
    (r'^Pconvs\.(\d+)\.Pconv\.1\.', r'pconvs.\1.lateral_conv.'),
    (r'^Pconvs\.(\d+)\.Pconv\.2\.', r'pconvs.\1.down_conv.'),
    (r'^Pconvs\.(\d+)\.bn\.', r'pconvs.\1.norm.'),
    (r'^cconv\.', 'cls_conv.'), (r'^lconv\.', 'reg_conv.'),
    (r'^cbn\.', 'cls_norm.'), (r'^lbn\.', 'reg_norm.'),
]


@MODELS.register_module()
class SEPC(BaseModule):
    """Scale-equalizing pyramid convolution neck (after an FPN).

    Variants: PConv (all switches off), iBN+PConv (``ibn``), SEPC-lite (``ibn``, ``lcconv_deform``), full SEPC
    (``ibn``, ``lcconv_deform``, ``pconv_deform``). ``lcconv_padding=0`` reproduces the reference's unpadded
    head convs and is only for its released checkpoints. ``output_mode='single'`` returns the PConv stack alone
    (for two-stage detectors). Official checkpoint keys (``Pconvs.*``, ``cconv``, ``lbn``...) load directly.
    ``dcn_impl`` picks the deformable conv: mmcv's compiled op, convzoo's PyTorch version (the same values and
    gradients, faster on the CPU), or 'auto' (PyTorch on the CPU, mmcv elsewhere); see :mod:`convzoo.layers.deform`.
    """

    def __init__(self, in_channels=(256,) * 5, out_channels: int = 256, num_outs: int = 5,
                 stacked_convs: int = 4, pconv_deform: bool = False, lcconv_deform: bool = False,
                 ibn: bool = False, norm_cfg: dict = dict(type='BN', requires_grad=True), norm_eval: bool = False,
                 lcconv_padding: int = 1, deform_start_level: int = 1, output_mode: str = 'pair',
                 dcn_impl: str = 'auto', init_cfg=None):
        super().__init__(init_cfg)
        in_channels = list(in_channels)
        if any(c != out_channels for c in in_channels):
            raise ValueError(f'SEPC sums levels, so every in_channels entry must equal out_channels '
                             f'({out_channels}); got {in_channels}')
        if len(in_channels) != num_outs or num_outs < 2:
            raise ValueError(f'SEPC needs num_outs >= 2 levels and one in_channels entry per level; '
                             f'got num_outs={num_outs}, in_channels={in_channels}')
        if output_mode not in ('pair', 'single'):
            raise ValueError(f"output_mode must be 'pair' or 'single', got {output_mode!r}")
        if lcconv_padding not in (0, 1):
            raise ValueError(f'lcconv_padding must be 1 (default) or 0 (legacy), got {lcconv_padding}')
        self.in_channels, self.out_channels, self.num_outs = in_channels, out_channels, num_outs
        self.output_mode, self.norm_eval = output_mode, norm_eval
        ibn_cfg = norm_cfg if ibn else None
        self.pconvs = nn.ModuleList(
            PConv(out_channels, pconv_deform, deform_start_level, ibn_cfg, dcn_impl) for _ in range(stacked_convs))
        if output_mode == 'pair':
            branch = dict(padding=lcconv_padding, part_deform=lcconv_deform, start_level=deform_start_level,
                          dcn_impl=dcn_impl)
            self.cls_conv = SEPCConv(out_channels, out_channels, **branch)
            self.reg_conv = SEPCConv(out_channels, out_channels, **branch)
            self.cls_norm = build_norm_layer(ibn_cfg, out_channels)[1] if ibn else None
            self.reg_norm = build_norm_layer(ibn_cfg, out_channels)[1] if ibn else None

    def forward(self, inputs):
        if len(inputs) != self.num_outs:
            raise ValueError(f'SEPC expects {self.num_outs} pyramid levels, got {len(inputs)}')
        feats = list(inputs)
        for pconv in self.pconvs:
            feats = pconv(feats)
        if self.output_mode == 'single':
            return tuple(feats)
        cls_feats = self._branch(feats, self.cls_conv, self.cls_norm)
        reg_feats = self._branch(feats, self.reg_conv, self.reg_norm)
        return tuple(zip(cls_feats, reg_feats))

    @staticmethod
    def _branch(feats, conv: SEPCConv, norm: nn.Module | None) -> list[torch.Tensor]:
        outs = [conv(level, x) for level, x in enumerate(feats)]
        if norm is not None:
            outs = integrated_norm(outs, norm)
        return [F.relu(y) for y in outs]

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.norm_eval:  # keep the (integrated) norms' running statistics frozen
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for key in [k for k in state_dict if k.startswith(prefix)]:
            suffix = key[len(prefix):]
            for pattern, replacement in _LEGACY_KEYS:
                new_suffix = re.sub(pattern, replacement, suffix)
                if new_suffix != suffix:
                    state_dict[prefix + new_suffix] = state_dict.pop(key)
                    break
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
