"""DeepLab v2's atrous spatial pyramid pooling (ASPP) head (its CRF step: ``convzoo.segmentors.crf_encoder_decoder``).

Chen, Papandreou, Kokkinos, Murphy, Yuille, "DeepLab: Semantic Image Segmentation with Deep Convolutional Nets,
Atrous Convolution, and Fully Connected CRFs", TPAMI 2017 (arXiv 1606.00915).

``ASPPv2Head``: parallel branches on the backbone's last feature (output stride 8), one per atrous rate r,

    fc6 = 3x3 conv, dilation r -> ReLU -> dropout -> fc7 = 1x1 conv -> ReLU -> dropout -> fc8 = 1x1 classifier,

and the branch score maps are summed (not concatenated, unlike v3's ``ASPPHead``). ASPP-L: rates (6, 12, 18, 24),
ASPP-S: (2, 4, 8, 12), DeepLab-LargeFOV: the same head with the single rate 12. ``bare_classifiers=True`` gives the
branches of the released ResNet-101 model: one atrous 3x3 classifier per rate, straight from the 2048-d feature.
"""
from __future__ import annotations

from typing import Sequence

import torch
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import nn

ASPP_L = (6, 12, 18, 24)
ASPP_S = (2, 4, 8, 12)
LARGE_FOV = (12,)


@MODELS.register_module()
class ASPPv2Head(BaseDecodeHead):
    """DeepLab v2 ASPP: summed per-rate branches fc6 (atrous 3x3) - fc7 (1x1) - fc8 (1x1 classifier).

    Args:
        dilations: one branch per atrous rate; ASPP-L (6, 12, 18, 24) by default.
        channels: fc6/fc7 width (1024 in the paper).
        dropout_ratio: dropout after fc6 and after fc7 (0.5 in the paper).
        bare_classifiers: each branch is a single atrous 3x3 conv to the classes (the released ResNet-101 model).
        norm_cfg: optional norm after fc6/fc7 (the paper has none).
    Other arguments as mmseg's ``BaseDecodeHead``.
    """

    def __init__(self, dilations: Sequence[int] = ASPP_L, bare_classifiers: bool = False, dropout_ratio: float = 0.5,
                 init_cfg=dict(type='Normal', std=0.01, layer='Conv2d'), **kwargs):
        super().__init__(dropout_ratio=dropout_ratio, init_cfg=init_cfg, **kwargs)
        if not dilations or any(int(r) < 1 for r in dilations):
            raise ValueError(f'ASPPv2Head: dilations must be positive atrous rates, got {dilations}')
        self.dilations = tuple(int(r) for r in dilations)
        self.bare_classifiers = bare_classifiers
        del self.conv_seg, self.dropout  # every branch has its own classifier and dropouts
        self.branches = nn.ModuleList(self._branch(rate) for rate in self.dilations)

    def _branch(self, rate: int) -> nn.Sequential:
        if self.bare_classifiers:
            return nn.Sequential(nn.Conv2d(self.in_channels, self.out_channels, 3, padding=rate, dilation=rate))
        conv = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        return nn.Sequential(
            ConvModule(self.in_channels, self.channels, 3, padding=rate, dilation=rate, **conv),  # fc6
            nn.Dropout(self.dropout_ratio),
            ConvModule(self.channels, self.channels, 1, **conv),  # fc7
            nn.Dropout(self.dropout_ratio),
            nn.Conv2d(self.channels, self.out_channels, 1))  # fc8

    def branch_outputs(self, inputs) -> list[torch.Tensor]:
        """Each branch's score map, before the sum."""
        x = self._transform_inputs(inputs)
        return [branch(x) for branch in self.branches]

    def forward(self, inputs) -> torch.Tensor:
        outputs = self.branch_outputs(inputs)
        return torch.stack(outputs).sum(0) if len(outputs) > 1 else outputs[0]
