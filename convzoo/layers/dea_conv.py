"""Detail-enhanced convolution (DEConv) of DEA-Net (Chen et al., IEEE TIP 2024, arXiv 2301.04805).

Five parallel 3x3 branches whose outputs are summed: a vanilla conv (VC) and four difference convs that act on
pixel differences -- central (CDC: x(p+k) - x(p)), angular (ADC: each ring pixel minus its clockwise neighbour),
horizontal (HDC: left column minus right column) and vertical (VDC: top row minus bottom row). Each difference
conv is an ordinary conv whose kernel is built from its weight, and convolution is linear, so the five branches
are exactly one 3x3 conv with the merged kernel ``W = w_cd + w_hd + w_vd + w_ad + w_vc`` and bias ``b = sum of the
five biases``. Training runs that single conv; :meth:`DEConv.to_conv2d` / :func:`fold_deconvs` freeze it into a
plain ``nn.Conv2d`` for deployment. Kernels are built out of place from the weights, on their device and dtype
(the reference allocated them with ``torch.cuda.FloatTensor`` and ran on CUDA only).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

# ADC: flattened 3x3 index i is paired with ring position ANGULAR_PARTNER[i] (its anticlockwise neighbour, so
# the kernel computes x_i - x_next(i) with next the clockwise neighbour); the centre is paired with itself.
ANGULAR_PARTNER = (3, 0, 1, 6, 4, 2, 7, 8, 5)
CENTRE = 4


def central_difference_kernel(weight: torch.Tensor) -> torch.Tensor:
    """(O, I, 3, 3) -> kernel of ``sum_k w_k (x(p+k) - x(p))``: centre entry lowered by the window sum."""
    flat = weight.flatten(2)
    centre = F.one_hot(torch.tensor(CENTRE, device=weight.device), 9).to(weight.dtype)
    return (flat - flat.sum(2, keepdim=True) * centre).view_as(weight)


def angular_difference_kernel(weight: torch.Tensor) -> torch.Tensor:
    """(O, I, 3, 3) -> ``w - w[partner]``; the centre becomes 0."""
    flat = weight.flatten(2)
    partner = torch.tensor(ANGULAR_PARTNER, device=weight.device)
    return (flat - flat.index_select(2, partner)).view_as(weight)


def horizontal_difference_kernel(weight: torch.Tensor) -> torch.Tensor:
    """(O, I, 3) Conv1d weight -> 3x3 kernel with it in the left column and its negative in the right column."""
    return torch.stack([weight, torch.zeros_like(weight), -weight], dim=-1)


def vertical_difference_kernel(weight: torch.Tensor) -> torch.Tensor:
    """(O, I, 3) Conv1d weight -> 3x3 kernel with it in the top row and its negative in the bottom row."""
    return torch.stack([weight, torch.zeros_like(weight), -weight], dim=-2)


class _DifferenceBranch(nn.Module):
    """One difference branch: a learnable conv (``.conv``, as in the reference) and its kernel rule."""

    def __init__(self, in_channels: int, out_channels: int, rule, one_dimensional: bool = False):
        super().__init__()
        # Conv1d for HDC/VDC keeps the reference's parameter shape (O, I, 3) and its default init (fan-in I*3).
        conv_cls = nn.Conv1d if one_dimensional else nn.Conv2d
        self.conv = conv_cls(in_channels, out_channels, 3, padding=1, bias=True)
        self.rule = rule

    def kernel(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.rule(self.conv.weight), self.conv.bias


class DEConv(BaseModule):
    """Detail-enhanced 3x3 convolution (stride 1, padding 1): five branches computed as one merged conv.

    Attribute names follow the reference so its training checkpoints load strictly: ``conv1_1`` CDC,
    ``conv1_2`` HDC, ``conv1_3`` VDC, ``conv1_4`` ADC (each wrapping ``.conv``) and ``conv1_5`` VC.
    """

    def __init__(self, in_channels: int, out_channels: int | None = None, init_cfg=None):
        super().__init__(init_cfg)
        out_channels = out_channels or in_channels
        self.in_channels, self.out_channels = in_channels, out_channels
        self.conv1_1 = _DifferenceBranch(in_channels, out_channels, central_difference_kernel)
        self.conv1_2 = _DifferenceBranch(in_channels, out_channels, horizontal_difference_kernel, True)
        self.conv1_3 = _DifferenceBranch(in_channels, out_channels, vertical_difference_kernel, True)
        self.conv1_4 = _DifferenceBranch(in_channels, out_channels, angular_difference_kernel)
        self.conv1_5 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=True)

    def branch_kernels(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        kernels = {name: getattr(self, attr).kernel() for name, attr in
                   (('central', 'conv1_1'), ('horizontal', 'conv1_2'), ('vertical', 'conv1_3'),
                    ('angular', 'conv1_4'))}
        kernels['vanilla'] = (self.conv1_5.weight, self.conv1_5.bias)
        return kernels

    def merged_kernel(self) -> tuple[torch.Tensor, torch.Tensor]:
        return fold_deconv_state(dict(self.named_parameters()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.merged_kernel()
        return F.conv2d(x, weight, bias, stride=1, padding=1)

    @torch.no_grad()
    def to_conv2d(self) -> nn.Conv2d:
        """The plain ``nn.Conv2d`` with the merged kernel, on this module's device and dtype."""
        weight, bias = self.merged_kernel()
        conv = nn.Conv2d(self.in_channels, self.out_channels, 3, padding=1, bias=True).to(weight)
        conv.weight.copy_(weight)
        conv.bias.copy_(bias)
        return conv

    def switch_to_deploy(self) -> nn.Conv2d:
        """Return the folded conv (a module cannot replace itself; :func:`fold_deconvs` swaps it in a parent)."""
        return self.to_conv2d()


def fold_deconvs(module: nn.Module) -> int:
    """Replace every :class:`DEConv` inside ``module`` by its folded ``nn.Conv2d``; returns how many."""
    folded = 0
    for name, child in list(module.named_children()):
        if isinstance(child, DEConv):
            setattr(module, name, child.to_conv2d())
            folded += 1
        else:
            folded += fold_deconvs(child)
    return folded


def fold_deconv_state(branch_state: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Merged (weight, bias) from one DEConv's reference-layout tensors (keys ``conv1_1.conv.weight`` ...)."""
    rules = {'conv1_1.conv': central_difference_kernel, 'conv1_2.conv': horizontal_difference_kernel,
             'conv1_3.conv': vertical_difference_kernel, 'conv1_4.conv': angular_difference_kernel,
             'conv1_5': lambda w: w}
    weight = sum(rule(branch_state[f'{prefix}.weight']) for prefix, rule in rules.items())
    bias = sum(branch_state[f'{prefix}.bias'] for prefix in rules)
    return weight, bias
