"""Rotated boxes for mmdet 3.3: the ``le90`` convention, polygon conversions, the ``'rbox'`` box type, rotated IoU.

Convention (``le90``, the one used everywhere in convzoo): a box is ``(cx, cy, w, h, theta)`` in pixels and radians,
image coordinates (x right, y down). ``theta`` is the angle from the +x axis to the box's width side, positive
towards +y (clockwise as displayed), and the box is normalised so that ``w >= h`` and ``-pi/2 <= theta < pi/2``.
Corners, in order::

    (cx, cy) + (w/2) u + (h/2) v,  + (w/2) u - (h/2) v,  - (w/2) u - (h/2) v,  - (w/2) u + (h/2) v
    with u = (cos theta, sin theta), v = (-sin theta, cos theta)

This matches mmcv's ``box_iou_rotated``/``nms_rotated`` with ``clockwise=True`` and mmrotate's ``le90``. OBBDetection
(the ARC reference code base) uses another angle definition; convert through polygons when comparing.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from mmcv.ops import box_iou_rotated
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import BaseBoxes, HorizontalBoxes, register_box, register_box_converter
from torch import Tensor

from convzoo.core.errors import DegeneratePolygonError

HALF_PI = math.pi / 2
MIN_SIDE = 1e-3  # pixels; a polygon whose rectangle is thinner than this is degenerate



def regularize_le90(boxes):
    """Any (cx, cy, w, h, theta) boxes (tensor or array, any angle) -> the same boxes in the le90 convention."""
    lib = torch if isinstance(boxes, Tensor) else np
    cx, cy, w, h, theta = (boxes[..., i] for i in range(5))
    swap = w < h
    long_side, short_side = lib.where(swap, h, w), lib.where(swap, w, h)
    theta = lib.where(swap, theta + HALF_PI, theta)
    theta = (theta + HALF_PI) % math.pi - HALF_PI
    return lib.stack([cx, cy, long_side, short_side, theta], -1)


def rbox_to_poly(boxes):
    """(..., 5) rotated boxes -> (..., 8) corners ``x1 y1 x2 y2 x3 y3 x4 y4`` (tensor or array)."""
    lib = torch if isinstance(boxes, Tensor) else np
    cx, cy, w, h, theta = (boxes[..., i] for i in range(5))
    cos, sin = lib.cos(theta), lib.sin(theta)
    ux, uy, vx, vy = w / 2 * cos, w / 2 * sin, -h / 2 * sin, h / 2 * cos
    xs = [cx + ux + vx, cx + ux - vx, cx - ux - vx, cx - ux + vx]
    ys = [cy + uy + vy, cy + uy - vy, cy - uy - vy, cy - uy + vy]
    return lib.stack([c for pair in zip(xs, ys) for c in pair], -1)


def polygon_area(points: np.ndarray) -> float:
    """Shoelace area of a (k, 2) polygon."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def poly_to_rbox(polys, where: str = 'polygon') -> np.ndarray:
    """(N, 2k) polygons (k >= 4 points) -> (N, 5) le90 boxes: the minimum-area enclosing rectangle of each.

    Exact for rectangles. Raises :class:`DegeneratePolygonError` naming ``where`` for a degenerate polygon.
    """
    polys = np.asarray(polys, dtype=np.float64)
    polys = polys.reshape(len(polys), -1) if polys.size else polys.reshape(0, 8)
    if polys.shape[1] < 8 or polys.shape[1] % 2:
        raise DegeneratePolygonError(f'{where}: a polygon needs at least 4 (x, y) points, got {polys.shape[1]} '
                                     'coordinates')
    boxes = np.zeros((len(polys), 5))
    for i, poly in enumerate(polys):
        points = poly.reshape(-1, 2)
        if not np.isfinite(points).all():
            raise DegeneratePolygonError(f'{where}: polygon {i} has non-finite coordinates')
        if polygon_area(points) < MIN_SIDE:
            raise DegeneratePolygonError(f'{where}: polygon {i} is degenerate (zero area: points on a line or '
                                         f'repeated): {poly.round(2).tolist()}')
        if len(points) != 4 or not _is_rectangle(points):  # cv2 works in float32: rectangles are done exactly
            points = cv2.boxPoints(cv2.minAreaRect(points.astype(np.float32))).astype(np.float64)
        width_side, height_side = points[1] - points[0], points[2] - points[1]
        boxes[i] = (*points.mean(0), np.linalg.norm(width_side), np.linalg.norm(height_side),
                    math.atan2(width_side[1], width_side[0]))
        if min(boxes[i, 2:4]) < MIN_SIDE:
            raise DegeneratePolygonError(f'{where}: polygon {i} is degenerate (thinner than {MIN_SIDE} px): '
                                         f'{poly.round(2).tolist()}')
    return regularize_le90(boxes)


def _is_rectangle(points: np.ndarray, tol: float = 1e-6) -> bool:
    sides = np.roll(points, -1, axis=0) - points
    dots = np.abs((sides * np.roll(sides, -1, axis=0)).sum(1))
    return bool((dots <= tol * (np.linalg.norm(sides, axis=1) ** 2).max()).all())


def rotated_iou(boxes1: Tensor, boxes2: Tensor, mode: str = 'iou', aligned: bool = False) -> Tensor:
    """IoU (or IoF of ``boxes1``) of rotated boxes with mmcv's CPU/GPU kernel.

    For the all-pairs case only pairs whose circumscribed circles meet are sent to the kernel (the others are 0),
    which makes anchor assignment on large images much cheaper.
    """
    boxes1, boxes2 = boxes1.float(), boxes2.float()
    if aligned:
        return box_iou_rotated(boxes1, boxes2, mode=mode, aligned=True)
    out = boxes1.new_zeros(len(boxes1), len(boxes2))
    if not len(boxes1) or not len(boxes2):
        return out
    radius1 = boxes1[:, 2:4].norm(dim=1) / 2
    radius2 = boxes2[:, 2:4].norm(dim=1) / 2
    close = torch.cdist(boxes1[:, :2], boxes2[:, :2]) < radius1[:, None] + radius2[None, :]
    rows, cols = close.nonzero(as_tuple=True)
    if len(rows):
        out[rows, cols] = box_iou_rotated(boxes1[rows], boxes2[cols], mode=mode, aligned=True)
    return out


@register_box(name='rbox')
class RotatedBoxes(BaseBoxes):
    """mmdet box type for le90 rotated boxes ``(cx, cy, w, h, theta)``; geometric transforms keep le90.

    ``clip_`` leaves boxes unchanged (a clipped rotated box is no longer one); use ``clip_object_border=False``.
    """

    box_dim = 5

    def regularize_(self) -> 'RotatedBoxes':
        self.tensor = regularize_le90(self.tensor)
        return self

    @property
    def centers(self) -> Tensor:
        return self.tensor[..., :2]

    @property
    def areas(self) -> Tensor:
        return self.tensor[..., 2] * self.tensor[..., 3]

    @property
    def widths(self) -> Tensor:
        return self.tensor[..., 2]

    @property
    def heights(self) -> Tensor:
        return self.tensor[..., 3]

    def flip_(self, img_shape, direction: str = 'horizontal') -> None:
        height, width = img_shape[:2]
        boxes = self.tensor.clone()
        if direction in ('horizontal', 'diagonal'):
            boxes[..., 0] = width - boxes[..., 0]
        if direction in ('vertical', 'diagonal'):
            boxes[..., 1] = height - boxes[..., 1]
        if direction not in ('horizontal', 'vertical', 'diagonal'):
            raise ValueError(f'unknown flip direction {direction!r}')
        if direction != 'diagonal':  # a mirror reverses the angle; a diagonal flip is a 180 deg rotation
            boxes[..., 4] = -boxes[..., 4]
        self.tensor = regularize_le90(boxes)

    def translate_(self, distances) -> None:
        self.tensor = torch.cat([self.tensor[..., :2] + self.tensor.new_tensor(distances), self.tensor[..., 2:]], -1)

    def clip_(self, img_shape) -> None:
        return None

    def rotate_(self, center, angle: float) -> None:
        """Rotate about ``center`` by ``angle`` degrees, clockwise as displayed (mmdet's convention)."""
        matrix = self.tensor.new_tensor(cv2.getRotationMatrix2D(center, -angle, 1))
        centres = self.tensor[..., :2] @ matrix[:, :2].T + matrix[:, 2]
        theta = self.tensor[..., 4:5] + math.radians(angle)
        self.tensor = regularize_le90(torch.cat([centres, self.tensor[..., 2:4], theta], -1))

    def project_(self, homography_matrix) -> None:
        matrix = torch.as_tensor(np.asarray(homography_matrix), dtype=self.tensor.dtype, device=self.tensor.device)
        corners = rbox_to_poly(self.tensor).reshape(-1, 4, 2)
        corners = torch.cat([corners, corners.new_ones(*corners.shape[:-1], 1)], -1) @ matrix.T
        corners = corners[..., :2] / corners[..., 2:3]
        boxes = poly_to_rbox(corners.reshape(-1, 8).cpu().numpy()) if len(corners) else np.zeros((0, 5))
        self.tensor = self.tensor.new_tensor(boxes).reshape(self.tensor.shape)

    def _scaled(self, scale_factor, move_centres: bool) -> Tensor:
        # The width side u = w (cos, sin) maps exactly to (sx w cos, sy w sin); the height is set so that the area
        # scales by sx * sy (exact for uniform scaling, the rectangle closest to the parallelogram otherwise).
        sx, sy = scale_factor
        cx, cy, w, h, theta = self.tensor.unbind(-1)
        ux, uy = sx * torch.cos(theta), sy * torch.sin(theta)
        stretch = torch.sqrt(ux ** 2 + uy ** 2)
        centres = (cx * sx, cy * sy) if move_centres else (cx, cy)
        boxes = torch.stack([*centres, w * stretch, h * sx * sy / stretch, torch.atan2(uy, ux)], -1)
        return regularize_le90(boxes)

    def rescale_(self, scale_factor) -> None:
        self.tensor = self._scaled(scale_factor, move_centres=True)

    def resize_(self, scale_factor) -> None:
        self.tensor = self._scaled(scale_factor, move_centres=False)

    def is_inside(self, img_shape, all_inside: bool = False, allowed_border: int = 0) -> torch.BoolTensor:
        """Boxes whose centre lies inside the image (extended by ``allowed_border``)."""
        height, width = img_shape[:2]
        cx, cy = self.tensor[..., 0], self.tensor[..., 1]
        return ((cx >= -allowed_border) & (cy >= -allowed_border) & (cx < width + allowed_border)
                & (cy < height + allowed_border))

    def find_inside_points(self, points: Tensor, is_aligned: bool = False) -> torch.BoolTensor:
        boxes = self.tensor if is_aligned else self.tensor[None]
        points = points if is_aligned else points[:, None]
        offset = points - boxes[..., :2]
        cos, sin = torch.cos(boxes[..., 4]), torch.sin(boxes[..., 4])
        along_w = offset[..., 0] * cos + offset[..., 1] * sin
        along_h = -offset[..., 0] * sin + offset[..., 1] * cos
        return (along_w.abs() <= boxes[..., 2] / 2) & (along_h.abs() <= boxes[..., 3] / 2)

    @staticmethod
    def overlaps(boxes1: BaseBoxes, boxes2: BaseBoxes, mode: str = 'iou', is_aligned: bool = False,
                 eps: float = 1e-6) -> Tensor:
        return rotated_iou(boxes1.convert_to('rbox').tensor, boxes2.convert_to('rbox').tensor, mode, is_aligned)

    @staticmethod
    def from_instance_masks(masks) -> 'RotatedBoxes':
        """Minimum-area rectangles of bitmap or polygon instance masks."""
        from mmdet.structures.mask import BitmapMasks
        boxes = []
        for i in range(len(masks)):
            if isinstance(masks, BitmapMasks):
                points = cv2.findNonZero(masks.masks[i].astype(np.uint8))
                points = np.zeros((0, 2)) if points is None else points.reshape(-1, 2)
            else:
                points = np.concatenate([np.asarray(p).reshape(-1, 2) for p in masks.masks[i]])
            boxes.append(poly_to_rbox(points.reshape(1, -1))[0] if len(points) >= 4 else np.zeros(5))
        return RotatedBoxes(np.array(boxes, np.float32).reshape(-1, 5))


@register_box_converter(HorizontalBoxes, RotatedBoxes)
def hbox_to_rbox(boxes: Tensor) -> Tensor:
    x1, y1, x2, y2 = boxes.unbind(-1)
    return regularize_le90(torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, torch.zeros_like(x1)], -1))


@register_box_converter(RotatedBoxes, HorizontalBoxes)
def rbox_to_hbox(boxes: Tensor) -> Tensor:
    corners = rbox_to_poly(boxes)
    xs, ys = corners[..., 0::2], corners[..., 1::2]
    return torch.stack([xs.min(-1).values, ys.min(-1).values, xs.max(-1).values, ys.max(-1).values], -1)


@TASK_UTILS.register_module()
class RotatedBoxOverlaps2D:
    """IoU calculator for mmdet assigners over le90 rotated boxes (tensors (N, 5) or :class:`RotatedBoxes`)."""

    def __call__(self, bboxes1, bboxes2, mode: str = 'iou', is_aligned: bool = False) -> Tensor:
        as_tensor = (lambda b: b.tensor if isinstance(b, BaseBoxes) else b)
        bboxes1, bboxes2 = as_tensor(bboxes1)[..., :5], as_tensor(bboxes2)[..., :5]
        return rotated_iou(bboxes1, bboxes2, mode, is_aligned)

    def __repr__(self) -> str:
        return f'{type(self).__name__}()'
