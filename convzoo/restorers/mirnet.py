"""MIRNet (Zamir et al., "Learning Enriched Features for Real Image Restoration and Enhancement", ECCV 2020).

conv3x3 -> residual recursive groups (RRG: multi-scale residual blocks + conv3x3, plus a skip) -> conv3x3, plus
the input. A multi-scale residual block (MRB, the reference's ``MSRB``) keeps ``height`` streams at 1, 1/2, 1/4
resolution with C, 2C, 4C channels. Column 0 runs a dual attention unit (DAU) per stream, top down; each further
column resamples every stream to every other stream's scale (anti-aliased residual down-sampling, residual
up-sampling), fuses them per stream with selective kernel feature fusion (SKFF, a softmax over the streams per
channel) and applies the stream's DAU. Finally all streams are brought to full resolution, fused by stream 0's
SKFF, convolved and added to the block input. DAU: conv-PReLU-conv, then spatial attention ([max, mean] -> 5x5
-> sigmoid) and channel attention (GAP -> 1x1 -> ReLU -> 1x1 -> sigmoid) side by side, concatenated, 1x1, plus
the input.

The reference shares weights by accident, and its released checkpoints depend on it: all columns of a stream
use one DAU instance, and one PReLU is shared by the bodies of all DAUs. Both are reproduced by default
(``share_dau_weights``, ``share_prelu``); module names follow the reference so its checkpoints load strictly.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from convzoo.core.registry import MODELS


def conv(in_channels: int, out_channels: int, kernel_size: int, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)


class SKFF(nn.Module):
    """Selective kernel feature fusion of ``height`` inputs of C channels: per-channel softmax over the inputs."""

    def __init__(self, channels: int, height: int = 3, reduction: int = 8, bias: bool = False):
        super().__init__()
        squeezed = max(channels // reduction, 4)
        self.conv_du = nn.Sequential(conv(channels, squeezed, 1, bias), nn.PReLU())
        self.fcs = nn.ModuleList(conv(squeezed, channels, 1, bias) for _ in range(height))

    def attention(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """(N, height, C, 1, 1) weights that sum to 1 over the inputs."""
        z = self.conv_du(torch.stack(feats).sum(0).mean((2, 3), keepdim=True))
        return torch.stack([fc(z) for fc in self.fcs], dim=1).softmax(dim=1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        return (torch.stack(feats, dim=1) * self.attention(feats)).sum(1)


class _SpatialAttention(nn.Module):
    """[max, mean] over channels -> 5x5 conv -> sigmoid (key ``spatial.conv.weight`` as in the reference)."""

    def __init__(self):
        super().__init__()
        self.spatial = nn.Module()
        self.spatial.conv = nn.Conv2d(2, 1, 5, padding=2, bias=False)

    def forward(self, x):
        pooled = torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], 1)
        return x * torch.sigmoid(self.spatial.conv(pooled))


class _ChannelAttention(nn.Module):

    def __init__(self, channels: int, reduction: int, bias: bool):
        super().__init__()
        self.conv_du = nn.Sequential(conv(channels, channels // reduction, 1, bias), nn.ReLU(inplace=True),
                                     conv(channels // reduction, channels, 1, bias), nn.Sigmoid())

    def forward(self, x):
        return x * self.conv_du(x.mean((2, 3), keepdim=True))


class DAU(nn.Module):
    """Dual attention unit; ``act`` is the body's PReLU (pass one instance to share it, as the reference does)."""

    def __init__(self, channels: int, kernel_size: int = 3, reduction: int = 8, bias: bool = False,
                 act: nn.Module | None = None):
        super().__init__()
        self.body = nn.Sequential(conv(channels, channels, kernel_size, bias), act or nn.PReLU(),
                                  conv(channels, channels, kernel_size, bias))
        self.SA = _SpatialAttention()
        self.CA = _ChannelAttention(channels, reduction, bias)
        self.conv1x1 = conv(2 * channels, channels, 1, bias)

    def forward(self, x):
        res = self.body(x)
        return self.conv1x1(torch.cat([self.SA(res), self.CA(res)], 1)) + x


class BlurPool(nn.Module):
    """Anti-aliased stride-2 subsampling: reflect-pad 1, depthwise ([1,2,1] x [1,2,1]) / 16, stride 2."""

    def __init__(self, channels: int):
        super().__init__()
        taps = torch.tensor([1., 2., 1.])
        self.register_buffer('filt', (taps[:, None] * taps[None, :] / 16).expand(channels, 1, 3, 3).clone())

    def forward(self, x):
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode='reflect'), self.filt, stride=2, groups=x.shape[1])


class ResidualDownsample(nn.Module):
    """x2 down, C -> 2C: (1x1, PReLU, 3x3, PReLU, blur-pool, 1x1) + (blur-pool, 1x1)."""

    def __init__(self, channels: int, bias: bool = False):
        super().__init__()
        self.top = nn.Sequential(conv(channels, channels, 1, bias), nn.PReLU(), conv(channels, channels, 3, bias),
                                 nn.PReLU(), BlurPool(channels), conv(channels, 2 * channels, 1, bias))
        self.bot = nn.Sequential(BlurPool(channels), conv(channels, 2 * channels, 1, bias))

    def forward(self, x):
        return self.top(x) + self.bot(x)


class ResidualUpsample(nn.Module):
    """x2 up, C -> C/2: (1x1, PReLU, transposed 3x3 stride 2, PReLU, 1x1) + (bilinear x2, 1x1)."""

    def __init__(self, channels: int, bias: bool = False):
        super().__init__()
        self.top = nn.Sequential(conv(channels, channels, 1, bias), nn.PReLU(),
                                 nn.ConvTranspose2d(channels, channels, 3, stride=2, padding=1, output_padding=1,
                                                    bias=bias),
                                 nn.PReLU(), conv(channels, channels // 2, 1, bias))
        self.bot = nn.Sequential(nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False),
                                 conv(channels, channels // 2, 1, bias))

    def forward(self, x):
        return self.top(x) + self.bot(x)


class _ResampleChain(nn.Module):
    """``factor`` = 2^k as k x2 stages in a row (key ``body.{i}`` as in the reference)."""

    def __init__(self, stage_cls, channels: int, factor: int, channel_step: float):
        super().__init__()
        stages = []
        for _ in range(int(math.log2(factor))):
            stages.append(stage_cls(channels))
            channels = int(channels * channel_step)
        self.body = nn.Sequential(*stages)

    def forward(self, x):
        return self.body(x)


def downsampler(channels: int, factor: int) -> _ResampleChain:
    return _ResampleChain(ResidualDownsample, channels, factor, 2)


def upsampler(channels: int, factor: int) -> _ResampleChain:
    return _ResampleChain(ResidualUpsample, channels, factor, 0.5)


class MRB(nn.Module):
    """Multi-scale residual block (reference ``MSRB``): ``height`` streams, ``width`` DAU columns."""

    def __init__(self, n_feat: int, height: int = 3, width: int = 2, bias: bool = False, reduction: int = 8,
                 share_dau_weights: bool = True, shared_prelu: nn.Module | None = None):
        super().__init__()
        self.n_feat, self.height, self.width = n_feat, height, width
        feats = [n_feat * 2 ** i for i in range(height)]

        def make_dau(channels):
            return DAU(channels, reduction=reduction, bias=bias, act=shared_prelu)

        self.blocks = nn.ModuleList(
            nn.ModuleList([make_dau(c)] * width) if share_dau_weights else
            nn.ModuleList(make_dau(c) for _ in range(width)) for c in feats)
        self.last_up = nn.ModuleDict({f'{i}': upsampler(feats[i], 2 ** i) for i in range(1, height)})
        # Resamplers are looked up by (source channels, factor); the reference builds them in this order.
        factors = [2 ** i for i in range(height - 1, 0, -1)]
        self.down = nn.ModuleDict({f'{c}_{f}': downsampler(c, f) for i, c in enumerate(feats) for f in factors[i:]})
        self.up = nn.ModuleDict({f'{c}_{f}': upsampler(c, f) for i, c in enumerate(feats[::-1]) for f in factors[i:]})
        self.conv_out = conv(n_feat, n_feat, 3, bias)
        self.selective_kernel = nn.ModuleList(SKFF(c, height, reduction) for c in feats)

    def _resample(self, x: torch.Tensor, source: int, target: int) -> torch.Tensor:
        if source == target:
            return x
        table = self.up if source > target else self.down
        return table[f'{x.shape[1]}_{2 ** abs(source - target)}'](x)

    def forward(self, x):
        streams = []
        feat = x
        for j in range(self.height):
            feat = self.blocks[j][0](feat if j == 0 else self.down[f'{feat.shape[1]}_2'](feat))
            streams.append(feat)
        for col in range(1, self.width):
            fused = [self.selective_kernel[j]([self._resample(s, k, j) for k, s in enumerate(streams)])
                     for j in range(self.height)]
            streams = [self.blocks[j][col](fused[j]) for j in range(self.height)]
        full = [streams[0]] + [self.last_up[f'{k}'](streams[k]) for k in range(1, self.height)]
        return self.conv_out(self.selective_kernel[0](full)) + x


class RRG(nn.Module):
    """Recursive residual group: ``n_mrb`` MRBs and a conv3x3 (``body``), plus the group input."""

    def __init__(self, n_feat: int, n_mrb: int, height: int, width: int, bias: bool = False, **mrb_kwargs):
        super().__init__()
        self.body = nn.Sequential(*[MRB(n_feat, height, width, bias, **mrb_kwargs) for _ in range(n_mrb)],
                                  conv(n_feat, n_feat, 3, bias=False))

    def forward(self, x):
        return self.body(x) + x


@MODELS.register_module()
class MIRNet(BaseModule):
    """MIRNet, tensor in / tensor out of the same shape; H and W must be multiples of 2^(height-1).

    Defaults are the paper's network (3 RRGs of 2 MRBs, 64 features, 3 streams, 2 DAU columns) with the
    reference's weight sharing (``share_dau_weights``, ``share_prelu``; False builds independent modules).
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, n_feat: int = 64, kernel_size: int = 3,
                 stride: int = 2, n_rrg: int = 3, n_mrb: int = 2, height: int = 3, width: int = 2,
                 reduction: int = 8, bias: bool = False, share_dau_weights: bool = True, share_prelu: bool = True,
                 init_cfg=None):
        super().__init__(init_cfg)
        if stride != 2:
            raise ValueError(f'MIRNet: stride (channel growth per stream) must be 2, got {stride}')
        self.input_multiple = 2 ** (height - 1)
        shared_prelu = nn.PReLU() if share_prelu else None
        self.conv_in = conv(in_channels, n_feat, kernel_size, bias)
        self.body = nn.Sequential(*[RRG(n_feat, n_mrb, height, width, bias, reduction=reduction,
                                        share_dau_weights=share_dau_weights, shared_prelu=shared_prelu)
                                    for _ in range(n_rrg)])
        self.conv_out = conv(n_feat, out_channels, kernel_size, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % self.input_multiple or w % self.input_multiple:
            raise ValueError(f'MIRNet needs H and W divisible by {self.input_multiple}, got {h}x{w} '
                             '(RestorationModel pads and crops back automatically)')
        return self.conv_out(self.body(self.conv_in(x))) + x
