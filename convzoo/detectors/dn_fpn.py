"""DN-FPN: the training-only contrastive denoising loss of Liu et al., "A DeNoising FPN With Transformer R-CNN for
Tiny Object Detection", IEEE TGRS 2024.

Backbone maps C_i (after a 1x1 channel transfer T_i) and pyramid maps P_i are embedded per image by two encoders
(conv 3x3/2 -> BN -> LeakyReLU -> GAP -> MLP): a geometric one G and a semantic one S. With
s(u, v) = exp(cos(u, v) / tau), each anchor contributes -log(s(q, pos) / (s(q, pos) + sum_neg s(q, neg))):

* geometric: q = G(P_i^j), pos = G(T_i C_i^j), negatives G(P_k^l) and G(T_k C_k^l) for k != i and l != j;
* semantic (i < L-1): q = S(P_i^j), pos = S(P_{i+1}^j), negatives S(P_k^l) and S(T_k C_k^l) for all k, l != j.

Both losses are sums over (level, image), times ``loss_weight``. The detector mixin runs backbone and neck once and
adds the two losses in ``loss()``; inference is untouched.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmdet.models.detectors import ATSS, CascadeRCNN, FasterRCNN
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import nn

PREFIX = 'dn_fpn_loss.'


class Encoder(nn.Module):
    """(B, C, H, W) -> (B, C): conv 3x3 stride 2 -> BN -> LeakyReLU(0.1) -> GAP -> Linear -> LeakyReLU -> Linear.

    Attribute names ``E`` and ``mlp`` follow the reference checkpoints (``loc_E.E.0.weight`` ...).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.E = nn.Sequential(nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.BatchNorm2d(channels),
                               nn.LeakyReLU(0.1), nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.mlp = nn.Sequential(nn.Linear(channels, channels), nn.LeakyReLU(0.1), nn.Linear(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.E(x))


def info_nce_terms(anchors: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor,
                   negative_mask: torch.Tensor, temperature: float) -> torch.Tensor:
    """-log(s(q, pos) / (s(q, pos) + sum over masked negatives s(q, neg))) per anchor, in the stable form
    ``logsumexp([cos_pos, cos_negs] / tau) - cos_pos / tau``.

    anchors, positives: (N, D); negatives: (M, D); negative_mask: (N, M) bool. Computed in float32, outside
    autocast, so half-precision training cannot overflow or round the similarities.
    """
    with torch.autocast(anchors.device.type, enabled=False):
        return _info_nce_fp32(anchors.float(), positives.float(), negatives.float(), negative_mask, temperature)


def _info_nce_fp32(anchors, positives, negatives, negative_mask, temperature):
    q = F.normalize(anchors, dim=-1)
    pos = (q * F.normalize(positives, dim=-1)).sum(-1, keepdim=True) / temperature
    neg = q @ F.normalize(negatives, dim=-1).t() / temperature
    neg = neg.masked_fill(~negative_mask, float('-inf'))
    return torch.logsumexp(torch.cat([pos, neg], 1), dim=1) - pos[:, 0]


@MODELS.register_module()
class DNFPNContrastiveLoss(BaseModule):
    """Geometric and semantic contrastive losses between paired backbone levels and pyramid levels.

    Args:
        in_channels: channels of the backbone maps at ``backbone_indices``.
        channels: channels of the pyramid maps (and of the embeddings).
        backbone_indices / neck_indices: which backbone outputs pair with which neck outputs, level by level.
        temperature: tau of the similarity exp(cos / tau).
        loss_weight: lambda (paper 0.1; the reference's latest code uses 0.01).
        reduction: 'sum' over (level, image) terms as the reference, or 'mean'.
    """

    def __init__(self, in_channels=(256, 512, 1024, 2048), channels: int = 256, backbone_indices=(0, 1, 2, 3),
                 neck_indices=(0, 1, 2, 3), temperature: float = 0.5, loss_weight: float = 0.1,
                 reduction: str = 'sum', init_cfg=None):
        super().__init__(init_cfg)
        if not len(in_channels) == len(backbone_indices) == len(neck_indices) >= 2:
            raise ValueError(f'DNFPNContrastiveLoss: in_channels {tuple(in_channels)}, backbone_indices '
                             f'{tuple(backbone_indices)} and neck_indices {tuple(neck_indices)} must have the same '
                             'length, at least 2 (one entry per paired level)')
        if reduction not in ('sum', 'mean'):
            raise ValueError(f"DNFPNContrastiveLoss: reduction={reduction!r}; use 'sum' or 'mean'")
        self.backbone_indices, self.neck_indices = tuple(backbone_indices), tuple(neck_indices)
        self.temperature, self.loss_weight, self.reduction = temperature, loss_weight, reduction
        # registered (the reference kept these in a plain list: never trained, saved or moved)
        self.channel_transfer = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in in_channels)
        self.loc_E = Encoder(channels)  # geometric encoder
        self.sem_E = Encoder(channels)  # semantic encoder

    def select(self, backbone_feats, neck_feats) -> tuple[list, list]:
        return [backbone_feats[i] for i in self.backbone_indices], [neck_feats[i] for i in self.neck_indices]

    def embed(self, encoder: Encoder, maps: list[torch.Tensor]) -> torch.Tensor:
        """(L, B, D); one encoder call per map, so BN statistics are those of that map's batch (as the paper)."""
        return torch.stack([encoder(m) for m in maps])

    def geometric_loss(self, pyr: torch.Tensor, bb: torch.Tensor) -> torch.Tensor:
        levels, batch, dim = pyr.shape
        level = torch.arange(levels, device=pyr.device).repeat_interleave(batch)
        image = torch.arange(batch, device=pyr.device).repeat(levels)
        other = (level[:, None] != level[None]) & (image[:, None] != image[None])  # (L B, L B)
        negatives = torch.cat([pyr.reshape(-1, dim), bb.reshape(-1, dim)])
        terms = info_nce_terms(pyr.reshape(-1, dim), bb.reshape(-1, dim), negatives, other.repeat(1, 2),
                               self.temperature)
        return self._reduce(terms)

    def semantic_loss(self, pyr: torch.Tensor, bb: torch.Tensor) -> torch.Tensor:
        levels, batch, dim = pyr.shape
        image = torch.arange(batch, device=pyr.device)
        anchor_image = image.repeat(levels - 1)
        other = anchor_image[:, None] != image.repeat(levels)[None]  # (L-1 B, L B)
        negatives = torch.cat([pyr.reshape(-1, dim), bb.reshape(-1, dim)])
        terms = info_nce_terms(pyr[:-1].reshape(-1, dim), pyr[1:].reshape(-1, dim), negatives, other.repeat(1, 2),
                               self.temperature)
        return self._reduce(terms)

    def _reduce(self, terms: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * (terms.sum() if self.reduction == 'sum' else terms.mean())

    def _connected_zero(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """0, connected to every input and parameter, so distributed training sees them all used."""
        return 0 * (sum(f.float().sum() for f in feats) + sum(p.sum() for p in self.parameters()))

    def forward(self, backbone_feats, neck_feats) -> dict[str, torch.Tensor]:
        backbone_maps, pyramid_maps = self.select(backbone_feats, neck_feats)
        if backbone_maps[0].shape[0] < 2:  # one image: no negatives, every term is -log(1) = 0
            zero = self._connected_zero(backbone_maps + pyramid_maps)
            return dict(loss_dn_geo=zero, loss_dn_sem=zero.clone())
        transferred = [t(c) for t, c in zip(self.channel_transfer, backbone_maps)]
        geo = self.geometric_loss(self.embed(self.loc_E, pyramid_maps), self.embed(self.loc_E, transferred))
        sem = self.semantic_loss(self.embed(self.sem_E, pyramid_maps), self.embed(self.sem_E, transferred))
        return dict(loss_dn_geo=geo, loss_dn_sem=sem)


def _in_float32(obj):
    """Half and bfloat16 tensors in nested lists and tuples as float32."""
    if isinstance(obj, torch.Tensor):
        return obj.float() if obj.dtype in (torch.float16, torch.bfloat16) else obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(_in_float32(o) for o in obj)
    return obj


def _outputs_in_float32(module, args, output):
    return _in_float32(output)


class DNFPNMixin:
    """Adds DN-FPN's losses to an mmdet detector; put it before the detector class in the bases.

    ``extract_feat`` runs backbone and neck once; during ``loss()`` it also keeps both feature lists, from which
    the contrastive losses are computed after the detector's own losses. ``predict``/``_forward`` are unchanged.
    """

    def _build_dn_fpn(self, dn_fpn_loss: dict) -> None:
        self.dn_fpn_loss = MODELS.build(dn_fpn_loss)
        self._dn_fpn_feats = None
        if getattr(self, 'rpn_head', None) is not None:
            # mmdet makes the RPN's anchors, hence its proposals, in the dtype of its outputs, and mmcv's NMS reads
            # float32 boxes only (on the CPU and CUDA): under autocast, proposals are decoded and suppressed in float32
            self.rpn_head.register_forward_hook(_outputs_in_float32)

    def extract_feat(self, batch_inputs: torch.Tensor):
        backbone_feats = self.backbone(batch_inputs)
        feats = self.neck(backbone_feats) if self.with_neck else backbone_feats
        if self._dn_fpn_feats is not None:  # inside loss(): keep them for the contrastive loss
            self._dn_fpn_feats.append((backbone_feats, feats))
        return feats

    def loss(self, batch_inputs: torch.Tensor, batch_data_samples) -> dict:
        self._dn_fpn_feats = []
        try:
            losses = super().loss(batch_inputs, batch_data_samples)
            if len(self._dn_fpn_feats) != 1:
                raise RuntimeError(f'{type(self).__name__}: the detector ran extract_feat '
                                   f'{len(self._dn_fpn_feats)} times in loss(); DN-FPN expects exactly once')
            backbone_feats, feats = self._dn_fpn_feats[0]
        finally:
            self._dn_fpn_feats = None  # do not keep feature maps alive between steps
        losses.update(self.dn_fpn_loss(backbone_feats, feats))
        return losses


DEFAULT_DN_FPN = dict(type='DNFPNContrastiveLoss')


def _dn_fpn_detector(base: type) -> type:
    """``DNFPN<Base>``: the mmdet detector ``base`` with the DN-FPN losses (extra argument ``dn_fpn_loss``)."""

    def __init__(self, *args, dn_fpn_loss: dict = DEFAULT_DN_FPN, **kwargs):
        base.__init__(self, *args, **kwargs)
        self._build_dn_fpn(dn_fpn_loss)

    name = f'DNFPN{base.__name__}'
    cls = type(name, (DNFPNMixin, base), dict(__init__=__init__, __module__=__name__,
                                              __doc__=f'{base.__name__} trained with the DN-FPN losses.'))
    return MODELS.register_module(name=name, module=cls)


DNFPNFasterRCNN = _dn_fpn_detector(FasterRCNN)
DNFPNCascadeRCNN = _dn_fpn_detector(CascadeRCNN)
DNFPNATSS = _dn_fpn_detector(ATSS)
