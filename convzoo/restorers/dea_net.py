"""DEA-Net (Chen et al., "DEA-Net: Single image dehazing based on detail-enhanced convolution and content-guided
attention", IEEE TIP 2024, arXiv 2301.04805).

A three-level U-Net on the hazy image in [0, 1]: level 1 (base width C) and level 2 (2C) are chains of DEBlocks,
``y = conv3x3(ReLU(DEConv(x)) + x) + x``; level 3 (4C) is 8 DEABlocks, which multiply the block's residual by a
content-guided attention (CGA) map before adding the input. CGA sums a channel vector (GAP -> 1x1 -> ReLU -> 1x1)
and a spatial map (7x7 conv of [mean, max] over channels) into a coarse map, interleaves it with the feature per
channel and refines it with a grouped 7x7 conv and a sigmoid. The decoder fuses each skip (the strided conv's
output) with the upsampled feature by CGA fusion, ``conv1x1(I + W*x + (1-W)*y)``, I = x + y. ``deploy=True`` (or
:meth:`DEANet.switch_to_deploy`) replaces every DEConv by its folded 3x3 conv. Module names follow the reference
(``down_level1_block1``, ``level3_block8``, ``mix1`` ...) so its checkpoints load strictly.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from convzoo.core.registry import MODELS
from convzoo.layers.dea_conv import DEConv, fold_deconvs

MODELS.register_module(module=DEConv)  # usable on its own in convzoo-scope configs


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=True)


class CGA(nn.Module):
    """Content-guided attention map of a C-channel feature (children ``sa``, ``ca``, ``pa`` as in the reference)."""

    def __init__(self, channels: int, reduction: int = 8):
        super().__init__()
        self.sa = _SpatialWeights()
        self.ca = _ChannelWeights(channels, reduction)
        self.pa = _PixelRefinement(channels)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        return self.pa(x, self.sa(x), self.ca(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(x)


class _SpatialWeights(nn.Module):

    def __init__(self):
        super().__init__()
        self.sa = nn.Conv2d(2, 1, 7, padding=3, padding_mode='reflect', bias=True)

    def forward(self, x):
        return self.sa(torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1))


class _ChannelWeights(nn.Module):
    """GAP -> 1x1 -> ReLU -> 1x1, no sigmoid (the sum with the spatial map is squashed later)."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.ca = nn.Sequential(nn.Conv2d(channels, channels // reduction, 1, bias=True), nn.ReLU(inplace=True),
                                nn.Conv2d(channels // reduction, channels, 1, bias=True))

    def forward(self, x):
        return self.ca(x.mean((2, 3), keepdim=True))


class _PixelRefinement(nn.Module):
    """``sigmoid(pa2(interleave(x, coarse)))``, ``coarse = spatial + channel`` broadcast to x's shape.

    ``pa2`` is the reference's grouped 7x7 conv (a group = one feature channel and its coarse map). It is evaluated
    in parts, which is the same sum: a depthwise conv of x; one 1 -> C conv of the shared spatial map; and, since a
    per-channel constant stays constant under reflect padding, the channel vector times each kernel's sum.
    oneDNN's kernel for 2-channel groups is slow (a third of a DEA-Net training step on the CPU); the parts are
    about 8x faster and keep the reference's parameters.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.pa2 = nn.Conv2d(2 * channels, channels, 7, padding=3, padding_mode='reflect', groups=channels,
                             bias=True)

    def forward(self, x, spatial, channel):
        weight, pad = self.pa2.weight, (3, 3, 3, 3)
        # channels-last depthwise: several times faster than NCHW in oneDNN, forward and backward
        feature = F.pad(x, pad, mode='reflect').contiguous(memory_format=torch.channels_last)
        out = F.conv2d(feature, weight[:, :1], self.pa2.bias, groups=x.shape[1])
        out = out + F.conv2d(F.pad(spatial, pad, mode='reflect'), weight[:, 1:])
        return torch.sigmoid(out + channel * weight[:, 1].sum((1, 2)).view(1, -1, 1, 1))


def _detail_conv(channels: int, deploy: bool) -> nn.Module:
    return conv3x3(channels, channels) if deploy else DEConv(channels)


class DEBlock(nn.Module):
    """``y = conv2(ReLU(conv1(x)) + x) + x`` with ``conv1`` a DEConv (a plain conv once deployed)."""

    def __init__(self, channels: int, deploy: bool = False):
        super().__init__()
        self.conv1 = _detail_conv(channels, deploy)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(channels, channels)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.act1(self.conv1(x)) + x)

    def forward(self, x):
        return self.residual(x) + x


class DEABlock(CGA):
    """DEBlock whose residual is re-weighted by its CGA map: ``y = r * CGA(r) + x``.

    It inherits CGA's ``sa``/``ca``/``pa`` children directly (not as a sub-module), matching the reference keys.
    """

    def __init__(self, channels: int, reduction: int = 8, deploy: bool = False):
        super().__init__(channels, reduction)
        self.conv1 = _detail_conv(channels, deploy)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(channels, channels)

    def forward(self, x):
        res = self.conv2(self.act1(self.conv1(x)) + x)
        return res * self.attention(res) + x


class CGAFusion(CGA):
    """Fuse a skip ``x`` with a decoder feature ``y``: ``conv1x1(I + W*x + (1-W)*y)``, I = x + y, W = CGA(I).

    ``double_sigmoid=True`` reproduces the reference, which squashes the (already sigmoid) map once more, so W
    lies in (0.5, 0.731); its checkpoints were trained that way.
    """

    def __init__(self, channels: int, reduction: int = 8, double_sigmoid: bool = True):
        super().__init__(channels, reduction)
        self.conv = nn.Conv2d(channels, channels, 1, bias=True)
        self.double_sigmoid = double_sigmoid

    def fusion_weights(self, x, y):
        weights = self.attention(x + y)
        return torch.sigmoid(weights) if self.double_sigmoid else weights

    def forward(self, x, y):
        weights = self.fusion_weights(x, y)
        return self.conv(x + y + weights * x + (1 - weights) * y)


@MODELS.register_module()
class DEANet(BaseModule):
    """DEA-Net, tensor in / tensor out (N, 3, H, W) with H and W multiples of 4 (the wrapper pads).

    Args:
        base_dim: width of level 1 (32 in the paper); levels 2 and 3 have 2x and 4x.
        deploy: build with plain convs in place of DEConvs (the reference's deploy network).
        double_sigmoid: CGA fusion as in the reference (see :class:`CGAFusion`).
        global_residual: add the input to the output (the reference does not).
    """

    input_multiple = 4

    def __init__(self, base_dim: int = 32, in_channels: int = 3, out_channels: int = 3, deploy: bool = False,
                 double_sigmoid: bool = True, global_residual: bool = False, init_cfg=None):
        super().__init__(init_cfg)
        self.deploy, self.global_residual = deploy, global_residual
        c1, c2, c3 = base_dim, base_dim * 2, base_dim * 4
        self.down1 = nn.Sequential(conv3x3(in_channels, c1))
        self.down2 = nn.Sequential(conv3x3(c1, c2, stride=2), nn.ReLU(True))
        self.down3 = nn.Sequential(conv3x3(c2, c3, stride=2), nn.ReLU(True))
        for level, channels in ((1, c1), (2, c2)):
            for i in range(1, 5):
                setattr(self, f'down_level{level}_block{i}', DEBlock(channels, deploy))
                setattr(self, f'up_level{level}_block{i}', DEBlock(channels, deploy))
        self.fe_level_2 = conv3x3(c2, c2)
        self.fe_level_3 = conv3x3(c3, c3)
        for i in range(1, 9):
            setattr(self, f'level3_block{i}', DEABlock(c3, 8, deploy))
        self.up1 = nn.Sequential(nn.ConvTranspose2d(c3, c2, 3, stride=2, padding=1, output_padding=1), nn.ReLU(True))
        self.up2 = nn.Sequential(nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1, output_padding=1), nn.ReLU(True))
        self.up3 = nn.Sequential(conv3x3(c1, out_channels))
        self.mix1 = CGAFusion(c3, reduction=8, double_sigmoid=double_sigmoid)
        self.mix2 = CGAFusion(c2, reduction=4, double_sigmoid=double_sigmoid)

    def _chain(self, prefix: str, count: int, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, count + 1):
            x = getattr(self, f'{prefix}{i}')(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % self.input_multiple or w % self.input_multiple:
            raise ValueError(f'DEANet needs H and W divisible by {self.input_multiple}, got {h}x{w} '
                             '(RestorationModel pads and crops back automatically)')
        level1 = self._chain('down_level1_block', 4, self.down1(x))
        skip2 = self.down2(level1)
        level2 = self._chain('down_level2_block', 4, self.fe_level_2(skip2))
        skip3 = self.down3(level2)
        level3 = self._chain('level3_block', 8, self.fe_level_3(skip3))
        up = self._chain('up_level2_block', 4, self.up1(self.mix1(skip3, level3)))
        up = self._chain('up_level1_block', 4, self.up2(self.mix2(skip2, up)))
        out = self.up3(up)
        return out + x if self.global_residual else out

    def switch_to_deploy(self) -> 'DEANet':
        """Fold every DEConv into a plain conv in place (outputs unchanged up to float rounding)."""
        fold_deconvs(self)
        self.deploy = True
        return self
