"""ARC: Adaptive Rotated Convolution (Pu et al., "Adaptive Rotated Convolution for Rotated Object Detection",
ICCV 2023).

A 3x3 convolution whose kernel is chosen per input image. A routing function looks at the input and predicts, for
each of n learned kernels W_i, a gate alpha_i in (0, 1) (independent sigmoids, not a softmax) and an angle theta_i
in (-40 deg, 40 deg) (softsign scaled). The sample's kernel is

    W_b = sum_i alpha_{b,i} * R(theta_{b,i}) W_i

where R(theta) is a 9x9 interpolation matrix acting on the flattened 3x3 kernel: each output cell samples the
original kernel at its own position rotated clockwise by theta (so the content turns counter-clockwise as
displayed, x right / y up). Edge-middle cells interpolate bilinearly; corner cells, whose rotated position leaves the
grid, interpolate linearly along the border ring; the centre is fixed. All B sample kernels are applied at once as
one grouped convolution with the batch folded into the channels.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

# Border ring of the 3x3 grid (cells numbered 3 * row + col), clockwise as displayed, and its corners.
RING_CLOCKWISE = (0, 1, 2, 5, 8, 7, 6, 3)
CORNERS = (0, 2, 6, 8)
CENTRE = 4
# Coefficient order of rotation_matrix(): which weight goes where (see _placements).
_TERMS = ('corner_self', 'corner_next', 'edge_self', 'edge_corner', 'edge_after', 'edge_centre')


def _placements(ring: tuple[int, ...]) -> torch.Tensor:
    """0/1 matrices (terms, 9, 9) putting each interpolation term of R at its (output cell, source cell).

    ``ring`` is the sampling direction: the source of a cell's "next" term is its successor on the ring.
    """
    nxt = {cell: ring[(i + 1) % len(ring)] for i, cell in enumerate(ring)}
    place = torch.zeros(len(_TERMS), 9, 9, dtype=torch.float64)
    for cell in ring:
        if cell in CORNERS:
            place[0, cell, cell] = place[1, cell, nxt[cell]] = 1
        else:
            corner = nxt[cell]
            place[2, cell, cell] = place[3, cell, corner] = 1
            place[4, cell, nxt[corner]] = place[5, cell, CENTRE] = 1
    return place


PLACE_POSITIVE = _placements(RING_CLOCKWISE)  # theta >= 0 samples clockwise
PLACE_NEGATIVE = _placements(tuple(reversed(RING_CLOCKWISE)))


def rotation_matrix(theta: torch.Tensor) -> torch.Tensor:
    """R(theta) for every angle (radians) in ``theta``: shape ``theta.shape + (9, 9)``; differentiable.

    Valid for |theta| <= 45 deg (rows are then non-negative and sum to 1; R(0) is the identity).
    """
    c, s = torch.cos(theta), torch.sin(theta).abs()
    corner = c - s
    coefs = torch.stack([corner, 1 - corner, c * (1 - s), c * s, s * (1 - c), (1 - c) * (1 - s)], -1)
    positive = PLACE_POSITIVE.to(theta).flatten(1)
    negative = PLACE_NEGATIVE.to(theta).flatten(1)
    mixed = torch.where((theta >= 0)[..., None], coefs @ positive, coefs @ negative)
    centre = torch.zeros(81, dtype=theta.dtype, device=theta.device)
    centre[CENTRE * 9 + CENTRE] = 1
    return (mixed + centre).unflatten(-1, (9, 9))


def mix_rotated_kernels(weight: torch.Tensor, alpha: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Per-sample kernels sum_i alpha_{b,i} R(theta_{b,i}) W_i.

    weight (n, C_out, C_in/g, 3, 3); alpha, theta (B, n) -> (B * C_out, C_in/g, 3, 3).
    One matrix product: (B*9, n*9) gated rotation matrices times (n*9, C_out*C_in/g) kernel columns.
    """
    n, c_out, c_in = weight.shape[:3]
    batch = alpha.shape[0]
    gated = rotation_matrix(theta) * alpha[..., None, None]  # (B, n, 9, 9)
    gated = gated.permute(0, 2, 1, 3).reshape(batch * 9, n * 9)
    columns = weight.permute(0, 3, 4, 1, 2).reshape(n * 9, c_out * c_in)
    mixed = (gated @ columns).view(batch, 3, 3, c_out, c_in)
    return mixed.permute(0, 3, 4, 1, 2).reshape(batch * c_out, c_in, 3, 3)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of an NCHW map (channels-last internally); key ``norm.weight``/``norm.bias``."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class RoutingFunction(nn.Module):
    """Per-sample kernel gates alpha (B, n) in (0, 1) and angles theta (B, n) in (-proportion, proportion) rad.

    depthwise 3x3 conv -> channel LayerNorm -> ReLU -> global average pool -> two dropout + linear branches:
    sigmoid for the gates (with bias), softsign times ``proportion`` degrees for the angles (no bias).
    """

    def __init__(self, in_channels: int, kernel_number: int, dropout_rate: float = 0.2, proportion: float = 40.0):
        super().__init__()
        self.kernel_number = kernel_number
        self.max_angle = math.radians(proportion)
        self.dwc = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False)
        self.norm = ChannelLayerNorm(in_channels)
        self.dropout_alpha = nn.Dropout(dropout_rate)
        self.fc_alpha = nn.Linear(in_channels, kernel_number, bias=True)
        self.dropout_theta = nn.Dropout(dropout_rate)
        self.fc_theta = nn.Linear(in_channels, kernel_number, bias=False)
        self.reset_parameters()

    def reset_parameters(self, include_dwconv: bool = True) -> None:
        """Truncated normal (std 0.02) on the linear weights and, unless excluded, the depthwise conv."""
        for weight in (self.fc_alpha.weight, self.fc_theta.weight) + ((self.dwc.weight,) if include_dwconv else ()):
            nn.init.trunc_normal_(weight, std=0.02, a=-2.0, b=2.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = F.relu(self.norm(self.dwc(x))).mean(dim=(2, 3))
        alpha = torch.sigmoid(self.fc_alpha(self.dropout_alpha(pooled)))
        theta = F.softsign(self.fc_theta(self.dropout_theta(pooled))) * self.max_angle
        return alpha, theta

    def extra_repr(self) -> str:
        return f'kernel_number={self.kernel_number}, max_angle={math.degrees(self.max_angle):g} deg'


class AdaptiveRotatedConv2d(BaseModule):
    """3x3 convolution with n kernels rotated and gated per sample by a :class:`RoutingFunction`.

    ``per_sample_loop=True`` convolves sample by sample instead of as one grouped conv over the batch (lower peak
    memory for large batches, same result).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 padding: int = 1, dilation: int = 1, groups: int = 1, bias: bool = False, kernel_number: int = 1,
                 routing_cfg: dict | None = None, per_sample_loop: bool = False, init_cfg=None):
        super().__init__(init_cfg)
        if kernel_size not in (3, (3, 3)):
            raise ValueError(f'AdaptiveRotatedConv2d rotates 3x3 kernels only, got kernel_size={kernel_size}')
        if bias:
            raise ValueError('AdaptiveRotatedConv2d has no bias (as the reference); use a following norm layer')
        if in_channels % groups or out_channels % groups:
            raise ValueError(f'channels {in_channels}->{out_channels} are not divisible by groups={groups}')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.kernel_number, self.per_sample_loop = kernel_number, per_sample_loop
        self.weight = nn.Parameter(torch.empty(kernel_number, out_channels, in_channels // groups, 3, 3))
        self.routing_func = RoutingFunction(in_channels, kernel_number, **(routing_cfg or {}))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # On the 5-D tensor, as the reference: torch takes fan_out = n * C_in/groups * 9 (dim 0 is n).
        nn.init.kaiming_normal_(self.weight, mode='fan_out', nonlinearity='relu')

    def conv_with(self, x: torch.Tensor, alpha: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """The convolution for given gates and angles (B, n); the routing function is bypassed."""
        batch = x.shape[0]
        kernels = mix_rotated_kernels(self.weight, alpha, theta)
        conv = dict(stride=self.stride, padding=self.padding, dilation=self.dilation)
        if self.per_sample_loop:
            per_sample = kernels.view(batch, self.out_channels, *kernels.shape[1:])
            return torch.cat([F.conv2d(x[b:b + 1], per_sample[b], groups=self.groups, **conv)
                              for b in range(batch)])
        out = F.conv2d(x.reshape(1, -1, *x.shape[2:]), kernels, groups=self.groups * batch, **conv)
        return out.view(batch, self.out_channels, *out.shape[2:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha, theta = self.routing_func(x)
        return self.conv_with(x, alpha, theta)

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, kernel_number={self.kernel_number}, stride={self.stride}, '
                f'padding={self.padding}, dilation={self.dilation}, groups={self.groups}')
