"""Rotated anchors and the (x, y, w, h, theta) delta coder, registered in mmdet's ``TASK_UTILS``."""
from __future__ import annotations

import math

import numpy as np
import torch
from mmdet.models.task_modules.coders.base_bbox_coder import BaseBBoxCoder
from mmdet.models.task_modules.prior_generators import AnchorGenerator
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import BaseBoxes
from torch import Tensor

from convzoo.structures.rotated_boxes import HALF_PI, RotatedBoxes, regularize_le90


@TASK_UTILS.register_module()
class RotatedAnchorGenerator(AnchorGenerator):
    """mmdet's anchors as le90 rotated boxes ``(cx, cy, w, h, angle)``; ``angle`` (radians, default 0) for all."""

    def __init__(self, *args, angle: float = 0.0, **kwargs):
        if kwargs.get('use_box_type'):
            raise ValueError('RotatedAnchorGenerator returns (N, 5) tensors; use_box_type is not supported')
        super().__init__(*args, **kwargs)
        self.angle = angle

    def single_level_grid_priors(self, featmap_size, level_idx: int, dtype=torch.float32, device='cuda') -> Tensor:
        boxes = super().single_level_grid_priors(featmap_size, level_idx, dtype, device)
        centre, size = (boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]
        return regularize_le90(torch.cat([centre, size, boxes.new_full((len(boxes), 1), self.angle)], 1))


def wrap_angle(angle, period: float = math.pi):
    """Angle(s) mapped into [-period/2, period/2)."""
    return (angle + period / 2) % period - period / 2


@TASK_UTILS.register_module()
class DeltaXYWHTCoder(BaseBBoxCoder):
    """Deltas (dx, dy, dw, dh, dtheta) between le90 anchors/proposals and rotated targets.

    * ``proj_xy``: the centre offset is measured along the anchor's own axes (divided by its w and h).
    * ``edge_swap``: a box (w, h, t) is also (h, w, t + pi/2); the target uses the form whose angle is closer to the
      anchor's, so |dtheta| <= pi/4 and no target jumps at the le90 range boundary.
    * dtheta is also wrapped to [-pi/2, pi/2): a box turned by pi is the same box.

    ``decode`` returns :class:`RotatedBoxes` (``use_box_type=True``) normalised to le90.
    """

    encode_size = 5

    def __init__(self, target_means=(0., 0., 0., 0., 0.), target_stds=(1., 1., 1., 1., 1.), proj_xy: bool = True,
                 edge_swap: bool = True, wh_ratio_clip: float = 16 / 1000, use_box_type: bool = True, **kwargs):
        super().__init__(use_box_type=use_box_type, **kwargs)
        self.means, self.stds = tuple(target_means), tuple(target_stds)
        self.proj_xy, self.edge_swap, self.wh_ratio_clip = proj_xy, edge_swap, wh_ratio_clip

    @property
    def angle_period(self) -> float:
        """The period of the normalised angle delta: boxes repeat when theta moves by pi."""
        return math.pi / self.stds[4]

    def encode(self, bboxes, gt_bboxes) -> Tensor:
        anchors, gts = _tensor(bboxes), _tensor(gt_bboxes)
        if not len(anchors):
            return anchors.new_zeros(0, 5)
        dtheta = wrap_angle(gts[:, 4] - anchors[:, 4])
        gw, gh = gts[:, 2], gts[:, 3]
        if self.edge_swap:
            swap = dtheta.abs() > math.pi / 4
            dtheta = torch.where(swap, wrap_angle(dtheta + HALF_PI), dtheta)
            gw, gh = torch.where(swap, gts[:, 3], gw), torch.where(swap, gts[:, 2], gh)
        offset = gts[:, :2] - anchors[:, :2]
        if self.proj_xy:
            cos, sin = torch.cos(anchors[:, 4]), torch.sin(anchors[:, 4])
            offset = torch.stack([cos * offset[:, 0] + sin * offset[:, 1], -sin * offset[:, 0] + cos * offset[:, 1]], 1)
        deltas = torch.stack([offset[:, 0] / anchors[:, 2], offset[:, 1] / anchors[:, 3],
                              torch.log(gw / anchors[:, 2]), torch.log(gh / anchors[:, 3]), dtheta], 1)
        return (deltas - deltas.new_tensor(self.means)) / deltas.new_tensor(self.stds)

    def decode(self, bboxes, pred_bboxes: Tensor, max_shape=None, wh_ratio_clip: float | None = None):
        """Anchors (N, 5) or (B, N, 5) plus deltas of the same shape -> rotated boxes (no clipping to the image)."""
        anchors = _tensor(bboxes)
        deltas = pred_bboxes * pred_bboxes.new_tensor(self.stds) + pred_bboxes.new_tensor(self.means)
        limit = abs(float(np.log(wh_ratio_clip or self.wh_ratio_clip)))
        dw, dh = deltas[..., 2].clamp(-limit, limit), deltas[..., 3].clamp(-limit, limit)
        shift = torch.stack([deltas[..., 0] * anchors[..., 2], deltas[..., 1] * anchors[..., 3]], -1)
        if self.proj_xy:
            cos, sin = torch.cos(anchors[..., 4]), torch.sin(anchors[..., 4])
            shift = torch.stack([cos * shift[..., 0] - sin * shift[..., 1], sin * shift[..., 0] + cos * shift[..., 1]],
                                -1)
        boxes = torch.stack([anchors[..., 0] + shift[..., 0], anchors[..., 1] + shift[..., 1],
                             anchors[..., 2] * dw.exp(), anchors[..., 3] * dh.exp(), anchors[..., 4] + deltas[..., 4]],
                            -1)
        boxes = regularize_le90(boxes)
        return RotatedBoxes(boxes) if self.use_box_type else boxes


def _tensor(boxes) -> Tensor:
    return boxes.tensor if isinstance(boxes, BaseBoxes) else boxes


def require_delta_coder(head, key: str, size: int, what: str) -> None:
    """A rotated head regresses ``size`` deltas with its coder: refuse another coder or decoded-box regression,
    naming the config key (``rpn_head``, ``bbox_head``)."""
    from convzoo.core.errors import ConfigError
    if head.bbox_coder.encode_size != size:
        raise ConfigError(f'{key}.bbox_coder: {type(head).__name__} needs {what} ({size} deltas), got '
                          f'{type(head.bbox_coder).__name__}')
    if head.reg_decoded_bbox:
        raise ConfigError(f'{key}.reg_decoded_bbox: {type(head).__name__} regresses deltas; set it to False')
