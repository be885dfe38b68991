"""ESPCN (Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel
Convolutional Neural Network", CVPR 2016).

All convolutions run at low resolution: 5x5 conv (C -> 64) + tanh, 3x3 conv (64 -> 32) + tanh, 3x3 conv
(32 -> C r^2), then the periodic shuffle ``out[c, h r + i, w r + j] = in[c r^2 + i r + j, h, w]`` (PixelShuffle)
gives the r-times larger image. One network per scale; the paper runs it on the Y channel (C = 1) and upsamples
the chroma bicubically (done by RestorationModel with ``channel_mode='y'``). ``variant='pytorch_examples'``
builds the 4-layer ReLU network of pytorch/examples' super_resolution, which users often compare with.

:meth:`ESPCN.optimize_for_inference` returns :class:`ESPCNInference`, the same computation for CPU inference
through oneDNN: weights reordered once into oneDNN's blocked layout, each activation fused into its convolution,
channels-last features, and the frame processed in bands of rows (each with a halo of the receptive radius, so the
result is unchanged) whose intermediate 64-channel features stay in cache.
"""
from __future__ import annotations

import math

import torch
from mmengine.model import BaseModule
from torch import nn

from convzoo.core.registry import MODELS

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

    def optimize_for_inference(self, band_rows: int | None = 180) -> 'ESPCNInference':
        """A CPU inference form with the current weights (later weight changes are not seen); see
        :class:`ESPCNInference`."""
        return ESPCNInference(self, band_rows)


def _fused_conv_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, '_convolution_pointwise')


class ESPCNInference(nn.Module):
    """ESPCN for float32 CPU inference through oneDNN (equal to the plain network up to float rounding).

    Each convolution runs as one oneDNN primitive with its activation fused as a post-op
    (``torch.ops.mkldnn._convolution_pointwise``, the kernel PyTorch's own CPU compiler emits) on weights reordered
    once, on channels-last features. Inputs taller than ``band_rows`` (low-resolution rows) are processed in bands
    of that many rows plus a halo of the receptive radius on each inner side (so zero padding only ever applies
    at the frame's true border), which keeps each band's 64-channel features in cache; ``None`` runs the whole
    frame at once. Inputs that are not float32 CPU tensors, inputs that need gradients, and PyTorch builds
    without oneDNN go through the plain network.
    """

    def __init__(self, net: ESPCN, band_rows: int | None = 180):
        super().__init__()
        if band_rows is not None and band_rows < 1:
            raise ValueError(f'ESPCNInference: band_rows must be a positive number of rows or None, got {band_rows}')
        self.net = net.eval()
        self.scale, self.in_channels, self.band_rows = net.scale, net.in_channels, band_rows
        self.clamp_output = net.clamp_output
        self.convs = [*net.hidden, net.last_conv]
        self.halo = sum((c.kernel_size[0] - 1) // 2 for c in self.convs)
        act = 'tanh' if isinstance(net.act, nn.Tanh) else 'relu'
        self.post_ops = [act] * (len(self.convs) - 1) + ['none']
        self.fused = _fused_conv_available()
        if self.fused:
            with torch.no_grad():
                self._weights = [torch._C._nn.mkldnn_reorder_conv2d_weight(
                    c.weight.detach().float().contiguous().to_mkldnn(), c.padding, c.stride, c.dilation, c.groups)
                    for c in self.convs]
                self._biases = [c.bias.detach().float().contiguous() for c in self.convs]

    def train(self, mode: bool = True):
        if mode:
            raise RuntimeError('ESPCNInference is an inference form; train the ESPCN it was made from')
        return super().train(False)

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for conv, weight, bias, post_op in zip(self.convs, self._weights, self._biases, self.post_ops):
            y = torch.ops.mkldnn._convolution_pointwise(y, weight, bias, conv.padding, conv.stride, conv.dilation,
                                                        conv.groups, post_op, [], '')
            # A 1-channel input leaves the first output in NCHW; later layers are faster channels-last.
            y = y.contiguous(memory_format=torch.channels_last)
        return torch.pixel_shuffle(y, self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (not self.fused or x.device.type != 'cpu' or x.dtype != torch.float32
                or (torch.is_grad_enabled() and x.requires_grad)):
            return self.net(x)
        with torch.no_grad():
            n, c, h, w = x.shape
            r = self.scale
            if self.band_rows is None or h <= self.band_rows:
                out = self._run(x)
            else:
                out = x.new_empty(n, c, h * r, w * r)
                for start in range(0, h, self.band_rows):
                    stop = min(h, start + self.band_rows)
                    lo, hi = max(0, start - self.halo), min(h, stop + self.halo)
                    band = self._run(x[:, :, lo:hi])
                    out[:, :, start * r:stop * r] = band[:, :, (start - lo) * r:(stop - lo) * r]
            return out.clamp_(0, 1) if self.clamp_output else out
