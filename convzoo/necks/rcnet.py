"""RCNet: Reverse Feature Pyramid and Cross-scale Shift Network (Zong et al., "RCNet: Reverse Feature Pyramid and
Cross-scale Shift Network for Object Detection", ACM MM 2021).

A neck replacing FPN, from backbone C3-C5 to P3-P7 (``out_channels`` each):

* laterals c3..c5 (1x1 conv); c6, c7 by a 1x1 conv and 2x2 max-pooling (replicate-padded to even size);
* RevFP, evaluated bottom-up with local bidirectional fusion nodes::

      p3 = F(c3, up(c4));  p_l = F(c_l, up(c_{l+1}), down(p_{l-1})) for l = 4..6;  p7 = F(c7, down(p6))

  A node mixes its inputs with per-image sigmoid gates of their global averages, ``r = g x1 + (1 - g) x2``;
  the up-sampled input is first re-weighted by a spatial softmax attention (mean 1) and a second gate mixes in
  the lower fused map; pre/post fusion convs are ReLU -> DCNv2 -> norm;
* CSN: every level resized to P4's size and stacked; a quarter of the channels is shifted cyclically across the
  levels (by +1, -1, +2, -2), mixed back by per-level 1x1 convs, plus a spatial and a scale context vector; the
  result is added back to each RevFP level.
"""
from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmengine.logging import print_log
from mmengine.model import BaseModule, constant_init, xavier_init
from torch import nn

from convzoo.layers.deform import DCNv2Pack, check_impl

NUM_LEVELS = 5
SHIFT_OFFSETS = (1, -1, 2, -2)  # channel group g at output level l reads input level (l + offset_g) mod L


def upsample_to(x: torch.Tensor, size) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


def max_pool_to(x: torch.Tensor, size) -> torch.Tensor:
    """``F.adaptive_max_pool2d(x, size)``, with exact fast paths: the identity at equal size, and for an integer
    size ratio k (whose adaptive bins are the k x k blocks) a block maximum; 2x2 blocks as the maximum of four
    strided views (on the CPU ~8x faster than PyTorch's pooling kernels, and the same values)."""
    h, w = x.shape[-2:]
    oh, ow = size
    if (h, w) == (oh, ow):
        return x
    if h % oh or w % ow:
        return F.adaptive_max_pool2d(x, size)
    kh, kw = h // oh, w // ow
    if (kh, kw) == (2, 2):
        return torch.maximum(torch.maximum(x[..., 0::2, 0::2], x[..., 0::2, 1::2]),
                             torch.maximum(x[..., 1::2, 0::2], x[..., 1::2, 1::2]))
    b, c = x.shape[:2]
    return x.reshape(b, c, h, ow, kw).amax(-1).reshape(b, c, oh, kh, ow).amax(3)


def pad_even(x: torch.Tensor) -> torch.Tensor:
    """Replicate-pad the bottom/right to even H and W."""
    h, w = x.shape[-2:]
    return F.pad(x, [0, w % 2, 0, h % 2], mode='replicate') if h % 2 or w % 2 else x


def downsample_to(x: torch.Tensor, size) -> torch.Tensor:
    """Replicate-pad to even size, 2x2 max-pool; any other size ratio falls back to adaptive max-pooling."""
    padded = pad_even(x)
    h, w = padded.shape[-2:]
    if (h // 2, w // 2) == tuple(size):
        return max_pool_to(padded, size)
    return F.adaptive_max_pool2d(x, size)


def _xavier_convs(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            xavier_init(m, distribution='uniform')


def fusion_conv_cfg(out_conv_cfg: dict | None, dcn_impl: str) -> dict | None:
    """``type='DCNv2'`` (mmcv's name) becomes :class:`DCNv2Pack` with ``dcn_impl``; any other conv is unchanged."""
    if out_conv_cfg is None or out_conv_cfg.get('type') != 'DCNv2':
        return out_conv_cfg
    return dict(out_conv_cfg, type=DCNv2Pack, dcn_impl=dcn_impl)


class ResetAfterInit:
    """``init_weights()`` of mmengine (``init_cfg``) first, then the module's own ``reset_parameters()``: the
    paper's initialisation wins over a config's generic one."""

    def init_weights(self) -> None:
        super().init_weights()
        self.reset_parameters()


class FusionGate(nn.Module):
    """g = sigmoid(conv1x1([GAP(a), GAP(b)])), one scalar per image; zero-initialised, so g = 0.5 at init."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(2 * channels, 1, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        constant_init(self.conv, 0)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([a.mean((2, 3), keepdim=True), b.mean((2, 3), keepdim=True)], 1)
        return torch.sigmoid(self.conv(pooled))


class UpsampleAttention(nn.Module):
    """a = softmax_HW(t C^-1/2 conv3x3([x1, x2])) * H W: a spatial re-weighting with mean 1 (exactly 1 at init)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(2 * channels, 1, 3, padding=1)
        self.temperature = nn.Parameter(torch.ones(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        constant_init(self.conv, 0)
        nn.init.ones_(self.temperature)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x1.shape
        logits = self.temperature * c ** -0.5 * self.one_channel_conv(x1, x2)
        return F.softmax(logits.reshape(b, 1, h * w), dim=-1).reshape(b, 1, h, w) * (h * w)

    def one_channel_conv(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """``self.conv(torch.cat([x1, x2], 1))`` computed tap by tap: one (9 x 2C) matrix product gives every tap's
        channel sum, then the nine shifted maps are added. The same sum as the conv, in another order; on the CPU
        ~10x faster than a convolution with a single output channel, and no concatenated copy. The products are
        batched as (taps x C) @ (C x HW): torch.matmul would fold the batch into (HW x C) @ (C x taps), a form BLAS
        runs 3-4x slower."""
        b, c, h, w = x1.shape
        kh, kw = self.conv.kernel_size
        taps = self.conv.weight[0].permute(1, 2, 0).reshape(kh * kw, 2 * c)  # (tap, input channel)
        per_tap = torch.baddbmm(torch.bmm(taps[:, :c].expand(b, -1, -1), x1.reshape(b, c, h * w)),
                                taps[:, c:].expand(b, -1, -1), x2.reshape(b, c, h * w))
        py, px = self.conv.padding
        per_tap = F.pad(per_tap.reshape(b, kh * kw, h, w), (px, px, py, py))
        out = sum(per_tap[:, i * kw + j, i:i + h, j:j + w] for i in range(kh) for j in range(kw))
        return (out + self.conv.bias).unsqueeze(1)


class FusionNode(ResetAfterInit, BaseModule):
    """One RevFP node: gated fusion of the lateral x1 with x2 (and, with ``with_lower``, the finer fused x3)."""

    def __init__(self, channels: int, with_lower: bool, upsample_attention: bool, out_conv_cfg: dict | None,
                 norm_cfg: dict | None, act_cfg: dict | None, dcn_impl: str = 'auto', init_cfg=None):
        super().__init__(init_cfg)
        self.out_conv_cfg = out_conv_cfg
        conv = dict(kernel_size=3, padding=1, conv_cfg=fusion_conv_cfg(out_conv_cfg, dcn_impl), norm_cfg=norm_cfg,
                    act_cfg=act_cfg, order=('act', 'conv', 'norm'))
        self.gate = FusionGate(channels)
        self.attention = UpsampleAttention(channels) if upsample_attention else None
        self.lower_gate = FusionGate(channels) if with_lower else None
        self.pre_fusion = ConvModule(channels, channels, **conv) if with_lower else None
        self.post_fusion = ConvModule(channels, channels, **conv)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.out_conv_cfg is None or self.out_conv_cfg.get('type') == 'Conv2d':
            # a plain conv gets Xavier; DCNv2 keeps mmcv's own init (zero offsets, mask 0.5)
            for conv in (self.pre_fusion, self.post_fusion):
                if conv is not None:
                    _xavier_convs(conv)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor | None = None) -> torch.Tensor:
        gate = self.gate(x1, x2)  # from the un-attended x2
        # g x1 + (1 - g) (a x2), with (1 - g) a formed on the one-channel map: two passes over the features, not four
        x2_weight = 1 - gate if self.attention is None else (1 - gate) * self.attention(x1, x2)
        fused = torch.addcmul(gate * x1, x2, x2_weight)
        if self.lower_gate is not None:
            if x3 is None:
                raise ValueError('this fusion node mixes in the finer fused level: pass x3')
            x1 = self.pre_fusion(fused)
            gate = self.lower_gate(x1, x3)
            fused = torch.addcmul(gate * x1, x3, 1 - gate)
        return self.post_fusion(fused)


class ScaleShift(nn.Module):
    """Shift channel groups cyclically across levels, mix per level with 1x1 convs, add to the input."""

    def __init__(self, channels: int, num_levels: int, ratio: int, norm_cfg: dict | None, act_cfg: dict | None):
        super().__init__()
        self.part = channels // ratio
        if self.part < 1:
            raise ValueError(f'CSN: channels ({channels}) must be at least the shift ratio ({ratio}), so that '
                             'each shifted group has a channel')
        shifted = channels + len(SHIFT_OFFSETS) * self.part
        self.level_mixers = nn.ModuleList(
            nn.Sequential(ConvModule(shifted, channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg),
                          nn.Conv2d(channels, channels, 1))
            for _ in range(num_levels))

    def shift(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, C, H, W) -> (B, L, 4 part + C, H, W): the shifted groups in front of the unshifted input."""
        groups = [torch.roll(x[:, :, g * self.part:(g + 1) * self.part], shifts=-offset, dims=1)
                  for g, offset in enumerate(SHIFT_OFFSETS)]  # roll by -k: out[l] = in[(l + k) mod L]
        return torch.cat([*groups, x], 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shifted = self.shift(x)
        mixed = torch.stack([mixer(shifted[:, level]) for level, mixer in enumerate(self.level_mixers)], 1)
        return x + mixed


class ContextBranch(nn.Module):
    """Attention pooling of a (B, C, H', W') arrangement of the levels into one context vector, then a 1x1 conv:
    (B, C, 1, 1). Subclasses choose the arrangement, i.e. what the attention pools over."""

    def __init__(self, channels: int):
        super().__init__()
        self.attention = nn.Conv2d(channels, 1, 1)
        self.transform = nn.Conv2d(channels, channels, 1)

    def arrange(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.arrange(x)
        b, _, h, w = x.shape
        weights = F.softmax(self.attention(x).reshape(b, 1, h * w), -1).reshape(b, 1, h, w) * (h * w)
        return self.transform((x * weights).mean((2, 3), keepdim=True))


class SpatialBranch(ContextBranch):
    """Context over positions: level mean, attention pooling over H W."""

    def arrange(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(1)  # (B, C, H, W)


class ScaleBranch(ContextBranch):
    """Context over levels: spatial mean per level, attention pooling over L."""

    def arrange(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((3, 4)).transpose(1, 2).unsqueeze(-1)  # (B, C, L, 1)


@MODELS.register_module(name=['CSN', 'CrossShiftNet'])
class CSN(ResetAfterInit, BaseModule):
    """Cross-scale Shift Network over a pyramid of ``num_levels`` maps with ``in_channels`` channels each.

    All levels are brought to the size of level 1 (finer ones by adaptive max-pooling, coarser ones bilinearly),
    shifted and mixed (:class:`ScaleShift`), given spatial and scale context, and added back to every level.
    """

    def __init__(self, in_channels: int = 256, num_levels: int = NUM_LEVELS, shift_ratio: int = 16,
                 norm_cfg: dict | None = None, act_cfg: dict | None = dict(type='ReLU', inplace=False),
                 init_cfg=None):
        super().__init__(init_cfg)
        if num_levels != NUM_LEVELS:
            raise ValueError(f'CSN: num_levels={num_levels}, but the cross-scale shift is defined for '
                             f'{NUM_LEVELS} levels (P3-P7), as in the paper')
        self.num_levels = num_levels
        self.scale_shift = ScaleShift(in_channels, num_levels, shift_ratio, norm_cfg, act_cfg)
        self.spatial_context = SpatialBranch(in_channels)
        self.scale_context = ScaleBranch(in_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _xavier_convs(self)

    def stack_levels(self, feats) -> torch.Tensor:
        size = feats[1].shape[-2:]
        resized = [max_pool_to(feats[0], size)] + [upsample_to(f, size) for f in feats[1:]]
        return torch.stack(resized, 1)  # (B, L, C, H, W)

    def forward(self, feats) -> tuple[torch.Tensor, ...]:
        if len(feats) != self.num_levels:
            raise ValueError(f'CSN expects {self.num_levels} pyramid levels, got {len(feats)}')
        out = self.scale_shift(self.stack_levels(feats))
        out = out + (self.spatial_context(out) + self.scale_context(out)).unsqueeze(1)
        first = feats[0] + upsample_to(out[:, 0], feats[0].shape[-2:])
        rest = [f + max_pool_to(out[:, level + 1], f.shape[-2:]) for level, f in enumerate(feats[1:])]
        return (first, *rest)


EXTRA_CONVS_VALUES = (False, None, True, 'on_input', 'on_lateral', 'on_output')  # FPN's; RCFPN takes any, uses none


def note_ignored_extra_convs(add_extra_convs) -> None:
    """Accept FPN's ``add_extra_convs`` as the official RCFPN does (its configs pass ``'on_input'``, inherited from
    FPN) and, like it, build no extra convs; say so once per neck built, since a user may expect them."""
    if add_extra_convs not in EXTRA_CONVS_VALUES:
        raise ValueError(f'RCNet: add_extra_convs={add_extra_convs!r} is none of FPN\'s values '
                         f'{EXTRA_CONVS_VALUES}; RCNet ignores it anyway (P6/P7 are pooled), so leave it out')
    if add_extra_convs:
        print_log(f'RCNet: add_extra_convs={add_extra_convs!r} is ignored, as in the official RCFPN: P6/P7 come '
                  'from a 1x1 conv and max-pooling, not from extra convs', logger='current', level=logging.INFO)


@MODELS.register_module(name=['RCNet', 'RCFPN'])
class RCNet(ResetAfterInit, BaseModule):
    """RevFP + CSN neck: backbone levels ``start_level`` .. ``end_level`` (exactly 3) -> 5 output levels.

    ``dcn_impl`` picks how the DCNv2 fusion convs (``out_conv_cfg=dict(type='DCNv2', ...)``) run: 'mmcv' (the
    compiled op), 'torch' (convzoo's PyTorch version: the same values and gradients, faster on the CPU) or 'auto'
    (PyTorch on the CPU, mmcv elsewhere). Parameters and state_dict keys are those of mmcv's DCNv2 either way.
    """

    def __init__(self, in_channels=(256, 512, 1024, 2048), out_channels: int = 256, num_outs: int = NUM_LEVELS,
                 start_level: int = 1, end_level: int = -1, add_extra_convs=False, norm_cfg: dict | None = None,
                 out_conv_cfg: dict | None = dict(type='DCNv2', deform_groups=2),
                 act_cfg: dict | None = dict(type='ReLU', inplace=False), dcn_impl: str = 'auto', init_cfg=None):
        super().__init__(init_cfg)
        note_ignored_extra_convs(add_extra_convs)
        if num_outs != NUM_LEVELS:
            raise ValueError(f'RCNet: num_outs={num_outs}, but RevFP and CSN are defined for {NUM_LEVELS} '
                             'output levels (3 backbone levels + 2 pooled extra levels)')
        check_impl(dcn_impl, 'RCNet: dcn_impl')
        end = len(in_channels) if end_level == -1 else end_level
        used = list(in_channels)[start_level:end]
        if len(used) != NUM_LEVELS - 2:
            raise ValueError(f'RCNet: in_channels[{start_level}:{end}] = {used}: exactly 3 backbone levels are '
                             'needed (C3-C5); adjust start_level/end_level')
        self.start_level, self.out_channels = start_level, out_channels
        self.laterals = nn.ModuleList(
            ConvModule(c, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None) for c in used)
        self.extra_levels = nn.ModuleList(
            ConvModule(out_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None) for _ in range(2))
        node = dict(channels=out_channels, out_conv_cfg=out_conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg,
                    dcn_impl=dcn_impl)
        self.rev_fp = nn.ModuleList([
            FusionNode(with_lower=False, upsample_attention=True, **node),  # p3
            FusionNode(with_lower=True, upsample_attention=True, **node),  # p4
            FusionNode(with_lower=True, upsample_attention=True, **node),  # p5
            FusionNode(with_lower=True, upsample_attention=True, **node),  # p6
            FusionNode(with_lower=False, upsample_attention=False, **node),  # p7: its only second input is p6
        ])
        self.csn = CSN(out_channels, NUM_LEVELS, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _xavier_convs(self.laterals)
        _xavier_convs(self.extra_levels)

    def lateral_levels(self, inputs) -> list[torch.Tensor]:
        """c3..c7: the laterals, then two levels of 1x1 conv + 2x2 max-pooling on the replicate-padded map."""
        feats = [conv(inputs[self.start_level + i]) for i, conv in enumerate(self.laterals)]
        for conv in self.extra_levels:
            padded = conv(pad_even(feats[-1]))
            feats.append(max_pool_to(padded, (padded.shape[-2] // 2, padded.shape[-1] // 2)))
        return feats

    def reverse_pyramid(self, c: list[torch.Tensor]) -> list[torch.Tensor]:
        """Bottom-up: each node gets its lateral, the up-sampled next lateral and the down-sampled fused level."""
        top = len(c) - 1
        p = [self.rev_fp[0](c[0], upsample_to(c[1], c[0].shape[-2:]))]
        for level in range(1, top):
            size = c[level].shape[-2:]
            p.append(self.rev_fp[level](c[level], upsample_to(c[level + 1], size), downsample_to(p[-1], size)))
        p.append(self.rev_fp[top](c[top], downsample_to(p[-1], c[top].shape[-2:])))
        return p

    def forward(self, inputs) -> tuple[torch.Tensor, ...]:
        return self.csn(self.reverse_pyramid(self.lateral_levels(inputs)))
