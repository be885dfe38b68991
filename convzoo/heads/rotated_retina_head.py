"""Rotated RetinaNet head (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, with rotated boxes as in
mmrotate's le90 baseline): mmdet's RetinaHead regressing (dx, dy, dw, dh, dtheta) from horizontal rotated anchors.

Targets come from :class:`~convzoo.heads.rotated_anchor_coder.DeltaXYWHTCoder` (edge swap, wrapped angle deltas),
assignment from mmdet's ``MaxIoUAssigner`` with ``RotatedBoxOverlaps2D``, NMS from mmcv's ``nms_rotated``. The
box loss handles the angle's periodicity: the angle target is moved by whole periods (boxes repeat when theta
moves by pi) to the representative nearest the prediction, so no loss is paid for predicting an equivalent box.
"""
from __future__ import annotations

import torch
from mmdet.models.dense_heads import RetinaHead
from mmdet.registry import MODELS
from torch import Tensor

ROTATED_ANCHORS = dict(type='RotatedAnchorGenerator', octave_base_scale=4, scales_per_octave=3,
                       ratios=[1.0, 0.5, 2.0], strides=[8, 16, 32, 64, 128])
ROTATED_CODER = dict(type='DeltaXYWHTCoder', target_means=(0., 0., 0., 0., 0.), target_stds=(1., 1., 1., 1., 1.))


def nearest_periodic(target: Tensor, reference: Tensor, period: float) -> Tensor:
    """``target + k * period`` with the integer k that brings it nearest to ``reference`` (no gradient through k)."""
    return target + torch.round((reference.detach() - target) / period) * period


@MODELS.register_module()
class RotatedRetinaHead(RetinaHead):
    """RetinaHead for le90 rotated boxes (5 regression outputs per anchor)."""

    def __init__(self, num_classes: int, in_channels: int, anchor_generator: dict = ROTATED_ANCHORS,
                 bbox_coder: dict = ROTATED_CODER, **kwargs):
        super().__init__(num_classes, in_channels, anchor_generator=anchor_generator, bbox_coder=bbox_coder,
                         **kwargs)
        if self.bbox_coder.encode_size != 5:
            raise ValueError(f'{type(self).__name__} needs a rotated box coder (encode_size 5), got '
                             f'{type(self.bbox_coder).__name__}')
        if self.reg_decoded_bbox:
            raise ValueError(f'{type(self).__name__}: reg_decoded_bbox is not supported (regress deltas)')

    def loss_by_feat_single(self, cls_score: Tensor, bbox_pred: Tensor, anchors: Tensor, labels: Tensor,
                            label_weights: Tensor, bbox_targets: Tensor, bbox_weights: Tensor, avg_factor: int):
        labels, label_weights = labels.reshape(-1), label_weights.reshape(-1)
        cls_score = cls_score.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels)
        loss_cls = self.loss_cls(cls_score, labels, label_weights, avg_factor=avg_factor)
        bbox_pred = bbox_pred.permute(0, 2, 3, 1).reshape(-1, 5)
        bbox_targets, bbox_weights = bbox_targets.reshape(-1, 5), bbox_weights.reshape(-1, 5)
        angle = nearest_periodic(bbox_targets[:, 4], bbox_pred[:, 4], self.bbox_coder.angle_period)
        bbox_targets = torch.cat([bbox_targets[:, :4], angle[:, None]], 1)
        loss_bbox = self.loss_bbox(bbox_pred, bbox_targets, bbox_weights, avg_factor=avg_factor)
        return loss_cls, loss_bbox
