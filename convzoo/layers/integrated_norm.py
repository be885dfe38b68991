"""Integrated normalisation over pyramid levels (iBN of SEPC, Wang et al., CVPR 2020).

Every level is flattened to (N, C, 1, H_l*W_l), the levels are concatenated and normalised by *one* norm layer,
then split back. Batch statistics are thereby pooled over all levels, each weighted by its pixel count, and one
affine pair and one set of running statistics serve every level.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def integrated_norm(features: Sequence[torch.Tensor], norm: nn.Module) -> list[torch.Tensor]:
    """Normalise a list of (N, C, H_l, W_l) maps jointly with ``norm`` (BN, SyncBN, GN...)."""
    n, c = features[0].shape[:2]
    sizes = [f.shape[-2:] for f in features]
    joined = torch.cat([f.reshape(n, c, 1, -1) for f in features], dim=-1)
    parts = torch.split(norm(joined), [h * w for h, w in sizes], dim=-1)
    return [p.reshape(n, c, h, w) for p, (h, w) in zip(parts, sizes)]
