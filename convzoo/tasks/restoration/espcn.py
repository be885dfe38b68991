"""ESPCN (Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel
Convolutional Neural Network", CVPR 2016).

All convolutions run at low resolution: 5x5 conv (C -> 64) + tanh, 3x3 conv (64 -> 32) + tanh, 3x3 conv
(32 -> C r^2), then the periodic shuffle ``out[c, h r + i, w r + j] = in[c r^2 + i r + j, h, w]`` (PixelShuffle)
gives the r-times larger image. One network per scale; the paper runs it on the Y channel (C = 1) and upsamples
the chroma bicubically (done by RestorationModel with ``channel_mode='y'``). ``variant='pytorch_examples'``
builds the 4-layer ReLU network of pytorch/examples' super_resolution, which users often compare with.
"""
from __future__ import annotations

import math

import torch
from mmengine.model import BaseModule
from torch import nn

from convzoo.registry import MODELS

ACTIVATIONS = {'tanh': nn.Tanh, 'relu': nn.ReLU}


@MODELS.register_module()
class ESPCN(BaseModule):
    """Sub-pixel super-resolution network (N, C, H, W) -> (N, C, rH, rW).

    Args:
        in_channels: C (1 for the paper's Y-channel network).
        scale: r.
        mid_channels, kernel_sizes: the paper's (64, 32) and (5, 3, 3).
        act: 'tanh' (paper) or 'relu'.
        variant: 'paper' or 'pytorch_examples' (convs 5x5 C->64, 3x3 64->64, 3x3 64->32, 3x3 32->C r^2, ReLU,
            orthogonal init); the latter ignores mid_channels, kernel_sizes, act and init.
        init: 'paper_reimpl' (N(0, sqrt(2 / (out k^2))) for hidden layers, N(0, 1e-3) for the last, zero biases)
            or 'default' (PyTorch's).
        clamp_output: clamp to [0, 1] (inference wrappers clamp anyway; keep False for training).
    """

    def __init__(self, in_channels: int = 1, scale: int = 3, mid_channels=(64, 32), kernel_sizes=(5, 3, 3),
                 act: str = 'tanh', variant: str = 'paper', init: str = 'paper_reimpl', clamp_output: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg)
        if variant not in ('paper', 'pytorch_examples'):
            raise ValueError(f"ESPCN: variant must be 'paper' or 'pytorch_examples', got {variant!r}")
        if act not in ACTIVATIONS:
            raise ValueError(f'ESPCN: act must be one of {sorted(ACTIVATIONS)}, got {act!r}')
        if variant == 'pytorch_examples':
            mid_channels, kernel_sizes, act = (64, 64, 32), (5, 3, 3, 3), 'relu'
        if len(kernel_sizes) != len(mid_channels) + 1:
            raise ValueError(f'ESPCN: {len(mid_channels)} hidden layers need {len(mid_channels) + 1} kernel sizes, '
                             f'got kernel_sizes={kernel_sizes}')
        self.in_channels, self.scale, self.variant, self.clamp_output = in_channels, scale, variant, clamp_output
        widths = [in_channels, *mid_channels]
        self.hidden = nn.ModuleList(nn.Conv2d(cin, cout, k, padding=k // 2)
                                    for cin, cout, k in zip(widths[:-1], widths[1:], kernel_sizes))
        self.act = ACTIVATIONS[act]()
        self.last_conv = nn.Conv2d(widths[-1], in_channels * scale ** 2, kernel_sizes[-1],
                                   padding=kernel_sizes[-1] // 2)
        self.pixel_shuffle = nn.PixelShuffle(scale)
        if variant == 'pytorch_examples':
            self._orthogonal_init()
        elif init == 'paper_reimpl':
            self._paper_reimpl_init()
        elif init != 'default':
            raise ValueError(f"ESPCN: init must be 'paper_reimpl' or 'default', got {init!r}")

    @torch.no_grad()
    def _paper_reimpl_init(self):
        for layer in self.hidden:
            std = math.sqrt(2 / (layer.out_channels * layer.kernel_size[0] ** 2))
            nn.init.normal_(layer.weight, 0.0, std)
            nn.init.zeros_(layer.bias)
        nn.init.normal_(self.last_conv.weight, 0.0, 1e-3)
        nn.init.zeros_(self.last_conv.bias)

    @torch.no_grad()
    def _orthogonal_init(self):
        for layer in self.hidden:
            nn.init.orthogonal_(layer.weight, nn.init.calculate_gain('relu'))
        nn.init.orthogonal_(self.last_conv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            x = self.act(layer(x))
        out = self.pixel_shuffle(self.last_conv(x))
        return out.clamp(0, 1) if self.clamp_output else out
