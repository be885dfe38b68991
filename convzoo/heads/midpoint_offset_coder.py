"""The midpoint-offset representation of Oriented R-CNN (Xie et al., "Oriented R-CNN for Object Detection",
ICCV 2021), registered in mmdet's ``TASK_UTILS``: :class:`MidpointOffsetCoder` and the IoU calculator of the
oriented RPN's assigner, :class:`RBbox2HBboxOverlaps2D`.

An oriented box is described by its horizontal bounding box (centre x, y, size w, h) and two offsets: the top
vertex (smallest y) lies at ``x + da * w`` on the hbox's top edge, the right vertex (largest x) at ``y + db * h``
on its right edge; by central symmetry the bottom and left vertices are their mirror images. Relative to a
horizontal anchor (px, py, pw, ph) the six regression targets are::

    dx = (x - px) / pw    dy = (y - py) / ph    dw = log(w / pw)    dh = log(h / ph)    da = a / w    db = b / h

with ``a, b`` the offsets of the two vertices from the hbox's edge midpoints, ``da, db`` in [-0.5, 0.5]. Decoding
gives a parallelogram (the four vertices), which is turned into a rectangle as in the paper: the shorter diagonal
is stretched to the length of the longer one about the centre; equal diagonals make a rectangle.

Vertices are chosen consistently: the top vertex is the corner with the smallest y (an edge parallel to the x axis:
the one with the larger x), and the right vertex is the top vertex's neighbour with the larger x. So the two chosen
vertices are always adjacent and decode to the encoded box (an axis-aligned box gives da = db = 0.5, the same box
as da = db = -0.5; mmrotate picks each vertex by comparing corners within 0.1 px, which for a thin box turned
slightly off an axis can pick one corner as both vertices: a degenerate target). Boxes are le90 (convzoo's only
convention, see :mod:`convzoo.structures.rotated_boxes`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from mmdet.models.task_modules.coders.base_bbox_coder import BaseBBoxCoder
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import BaseBoxes, bbox_overlaps
from torch import Tensor

from convzoo.core.errors import ConfigError
from convzoo.structures.rotated_boxes import RotatedBoxes, rbox_to_hbox, regularize_le90

ANGLE_VERSION = 'le90'


def check_angle_version(angle_version: str, key: str = 'angle_version') -> None:
    """convzoo's rotated boxes are le90 only: refuse anything else, naming the config key."""
    if angle_version != ANGLE_VERSION:
        raise ConfigError(f"{key}={angle_version!r}: convzoo's rotated boxes use the le90 convention only "
                          f"(w >= h, -90 <= theta < 90 degrees); set {key}='le90' or remove it")


def _tensor(boxes) -> Tensor:
    return boxes.tensor if isinstance(boxes, BaseBoxes) else boxes


def rbox_to_midpoint(boxes: Tensor) -> Tensor:
    """(..., 5) boxes -> (..., 6) ``(x, y, w, h, a, b)``: hbox centre and size, and the signed offsets of the top
    vertex (along x) and of the right vertex (along y) from the hbox's edge midpoints.

    Closed form on the le90 box (cos theta >= 0), so no corner comparison can pick vertices that are not adjacent:
    theta > 0: top = c - u - v, right = c + u - v; theta <= 0: top = c + u - v, right = c + u + v, with
    u = (w/2)(cos, sin) and v = (h/2)(-sin, cos). theta = 0 gives a = w/2, b = h/2 (the larger-x tie choice).
    """
    cx, cy, w, h, theta = regularize_le90(boxes).unbind(-1)
    cos, sin = torch.cos(theta), torch.sin(theta)
    half_w, half_h = w / 2, h / 2
    turned = sin > 0
    a = torch.where(turned, -half_w * cos + half_h * sin, half_w * cos + half_h * sin)
    b = torch.where(turned, half_w * sin - half_h * cos, half_w * sin + half_h * cos)
    hbox_w = w * cos.abs() + h * sin.abs()
    hbox_h = w * sin.abs() + h * cos.abs()
    return torch.stack([cx, cy, hbox_w, hbox_h, a, b], -1)


def midpoint_to_rbox(cx: Tensor, cy: Tensor, w: Tensor, h: Tensor, da: Tensor, db: Tensor,
                     eps: float = 1e-6) -> Tensor:
    """Hbox (centre, size) and relative offsets -> le90 rectangle (..., 5).

    Vertices: top (cx + da w, cy - h/2), right (cx + w/2, cy + db h) and their mirror images through the centre.
    The parallelogram's shorter half-diagonal is stretched to the longer one's length, which makes a rectangle;
    its width side runs from the top vertex to the right vertex.
    """
    top = torch.stack([da * w, -h / 2], -1)  # from the centre
    right = torch.stack([w / 2, db * h], -1)
    len_top = top.norm(dim=-1, keepdim=True).clamp(min=eps)
    len_right = right.norm(dim=-1, keepdim=True).clamp(min=eps)
    half_diag = torch.maximum(len_top, len_right)
    top, right = top * (half_diag / len_top), right * (half_diag / len_right)
    width_side, height_side = right - top, -top - right
    theta = torch.atan2(width_side[..., 1], width_side[..., 0])
    boxes = torch.stack([cx, cy, width_side.norm(dim=-1), height_side.norm(dim=-1), theta], -1)
    return regularize_le90(boxes)


@TASK_UTILS.register_module()
class MidpointOffsetCoder(BaseBBoxCoder):
    """Horizontal anchors (x1, y1, x2, y2) + deltas (dx, dy, dw, dh, da, db) <-> le90 rotated boxes.

    Args:
        target_means / target_stds: normalisation of the six deltas (Oriented R-CNN: means 0, stds
            (1, 1, 1, 1, 0.5, 0.5)).
        angle_version: must be ``'le90'`` (kept so that mmrotate configs read the same; others are refused).
        use_box_type: ``decode`` returns :class:`RotatedBoxes` (True, default) or a tensor.
    """

    encode_size = 6

    def __init__(self, target_means: Sequence[float] = (0., 0., 0., 0., 0., 0.),
                 target_stds: Sequence[float] = (1., 1., 1., 1., 1., 1.), angle_version: str = ANGLE_VERSION,
                 use_box_type: bool = True, **kwargs):
        super().__init__(use_box_type=use_box_type, **kwargs)
        check_angle_version(angle_version, 'bbox_coder.angle_version')
        if len(target_means) != 6 or len(target_stds) != 6:
            raise ConfigError(f'bbox_coder.target_means / target_stds: MidpointOffsetCoder needs 6 values each, '
                              f'got {len(target_means)} and {len(target_stds)}')
        self.means, self.stds = tuple(float(m) for m in target_means), tuple(float(s) for s in target_stds)
        self.angle_version = angle_version

    def encode(self, bboxes, gt_bboxes) -> Tensor:
        """Anchors (N, 4) and le90 targets (N, 5) -> normalised deltas (N, 6)."""
        anchors, gts = _tensor(bboxes), _tensor(gt_bboxes)
        dtype = torch.promote_types(torch.promote_types(anchors.dtype, gts.dtype), torch.float32)
        anchors, gts = anchors.to(dtype), gts.to(dtype)
        if anchors.size(-1) != 4 or gts.size(-1) != 5:
            raise ValueError(f'MidpointOffsetCoder.encode needs horizontal anchors (N, 4) and rotated targets '
                             f'(N, 5), got {tuple(anchors.shape)} and {tuple(gts.shape)}')
        if not len(anchors):
            return anchors.new_zeros(0, 6)
        px, py = (anchors[:, 0] + anchors[:, 2]) / 2, (anchors[:, 1] + anchors[:, 3]) / 2
        pw, ph = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
        gx, gy, gw, gh, ga, gb = rbox_to_midpoint(gts).unbind(-1)
        deltas = torch.stack([(gx - px) / pw, (gy - py) / ph, torch.log(gw / pw), torch.log(gh / ph),
                              ga / gw, gb / gh], -1)
        return (deltas - deltas.new_tensor(self.means)) / deltas.new_tensor(self.stds)

    def decode(self, bboxes, pred_bboxes: Tensor, max_shape=None, wh_ratio_clip: float = 16 / 1000):
        """Anchors (N, 4) or (B, N, 4) and deltas (..., 6) -> le90 rotated boxes (..., 5), not clipped."""
        anchors = _tensor(bboxes)
        if anchors.size(-1) != 4 or pred_bboxes.size(-1) != 6:
            raise ValueError(f'MidpointOffsetCoder.decode needs anchors (..., 4) and deltas (..., 6), got '
                             f'{tuple(anchors.shape)} and {tuple(pred_bboxes.shape)}')
        deltas = pred_bboxes * pred_bboxes.new_tensor(self.stds) + pred_bboxes.new_tensor(self.means)
        limit = float(abs(np.log(wh_ratio_clip)))
        dx, dy, dw, dh, da, db = deltas.unbind(-1)
        dw, dh = dw.clamp(-limit, limit), dh.clamp(-limit, limit)
        px, py = (anchors[..., 0] + anchors[..., 2]) / 2, (anchors[..., 1] + anchors[..., 3]) / 2
        pw, ph = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
        w, h = pw * dw.exp(), ph * dh.exp()
        boxes = midpoint_to_rbox(px + dx * pw, py + dy * ph, w, h, da.clamp(-0.5, 0.5), db.clamp(-0.5, 0.5))
        return RotatedBoxes(boxes, clone=False) if self.use_box_type else boxes


@TASK_UTILS.register_module()
class RBbox2HBboxOverlaps2D:
    """IoU of (rotated) ground truth, taken as its horizontal bounding box, with horizontal anchors: the oriented
    RPN's assignment (mmrotate's ``RBbox2HBboxOverlaps2D``). Either side may be (N, 4) or (N, 5) tensors or boxes."""

    def __call__(self, bboxes1, bboxes2, mode: str = 'iou', is_aligned: bool = False) -> Tensor:
        return bbox_overlaps(_as_hbox(bboxes1), _as_hbox(bboxes2), mode=mode, is_aligned=is_aligned)

    def __repr__(self) -> str:
        return f'{type(self).__name__}()'


def _as_hbox(boxes) -> Tensor:
    boxes = _tensor(boxes)
    return rbox_to_hbox(boxes[..., :5]) if boxes.size(-1) == 5 else boxes[..., :4]
