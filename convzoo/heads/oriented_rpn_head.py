"""Oriented RPN of Oriented R-CNN (Xie et al., ICCV 2021): mmdet's RPNHead whose 1x1 regression conv predicts the
six midpoint-offset deltas (dx, dy, dw, dh, da, db) per horizontal anchor, decoded into le90 oriented proposals by
:class:`~convzoo.heads.midpoint_offset_coder.MidpointOffsetCoder`.

Layer names are RPNHead's (``rpn_conv``, ``rpn_cls``, ``rpn_reg`` with 6 channels per anchor), i.e. mmrotate 1.x's
``OrientedRPNHead`` checkpoint layout. Anchors are assigned against the ground truth's horizontal bounding boxes
(``RBbox2HBboxOverlaps2D``), as in the paper and mmrotate.

Proposal NMS (per pyramid level, as mmdet's RPN): ``nms=dict(type='nms_rotated', iou_threshold=0.8)`` suppresses
by rotated IoU; ``type='nms'`` suppresses by the IoU of the proposals' horizontal bounding boxes (mmrotate's
choice). Rotated NMS goes through :func:`nms_rotated_sparse`, which returns exactly what mmcv's ``nms_rotated``
returns but computes mmcv's rotated IoU only for pairs that can reach the threshold (circumscribed circles meet,
area ratio >= threshold): mmcv's CPU kernel compares all pairs, about 6 s for 2000 proposals on one core.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from mmcv.ops import batched_nms, box_iou_rotated, nms_rotated
from mmdet.models.dense_heads import RPNHead
from mmdet.registry import MODELS
from mmdet.structures.bbox import BaseBoxes, empty_box_as, get_box_tensor, get_box_wh, scale_boxes
from mmengine.structures import InstanceData
from torch import Tensor

from convzoo.heads.rotated_anchor_coder import require_delta_coder
from convzoo.structures.rotated_boxes import RotatedBoxes, rbox_to_hbox

ORIENTED_RPN_ANCHORS = dict(type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0], strides=[4, 8, 16, 32, 64])
MIDPOINT_CODER = dict(type='MidpointOffsetCoder', angle_version='le90', target_means=[0.0] * 6,
                      target_stds=[1.0, 1.0, 1.0, 1.0, 0.5, 0.5])
PAIR_CHUNK = 1024  # rows of the candidate-pair search at a time (memory: rows x N)


def nms_rotated_sparse(dets: Tensor, scores: Tensor, iou_threshold: float, labels: Tensor | None = None,
                       clockwise: bool = True) -> tuple[Tensor, Tensor]:
    """Greedy rotated NMS with mmcv's ``nms_rotated`` interface and result: ``(dets + score column, keep)``, kept
    boxes by decreasing score. Only pairs whose IoU can reach the threshold are sent to mmcv's rotated IoU kernel:
    their circumscribed circles must meet and their area ratio be at least the threshold (IoU <= min/max area)."""
    if iou_threshold <= 0 or not clockwise:  # every pair may suppress: nothing to prune
        return nms_rotated(dets, scores, iou_threshold, labels=labels, clockwise=clockwise)
    if not len(dets):
        return dets.new_zeros(0, dets.size(-1) + 1), dets.new_zeros(0, dtype=torch.long)
    order = scores.sort(0, descending=True)[1]
    boxes = dets[order].float()
    num = len(boxes)
    radius = boxes[:, 2:4].norm(dim=1) / 2
    area = boxes[:, 2] * boxes[:, 3]
    ranks = torch.arange(num, device=boxes.device)
    rows, cols = [], []
    for start in range(0, num, PAIR_CHUNK):
        part = slice(start, min(start + PAIR_CHUNK, num))
        close = torch.cdist(boxes[part, :2], boxes[:, :2]) < radius[part, None] + radius[None, :]
        close &= ranks[None, :] > ranks[part, None]  # each pair once, higher score first
        ratio = torch.minimum(area[part, None], area[None, :]) / torch.maximum(area[part, None], area[None, :])
        close &= ~(ratio < iou_threshold)  # NaN areas stay candidates
        if labels is not None:
            sorted_labels = labels[order]
            close &= sorted_labels[part, None] == sorted_labels[None, :]
        r, c = close.nonzero(as_tuple=True)
        rows.append(r + start)
        cols.append(c)
    rows, cols = torch.cat(rows), torch.cat(cols)
    if len(rows):
        iou = box_iou_rotated(boxes[rows], boxes[cols], aligned=True, clockwise=True)
        hit = iou >= iou_threshold
        rows, cols = rows[hit].cpu().numpy(), cols[hit].cpu().numpy()
    else:
        rows, cols = np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.searchsorted(rows, np.arange(num + 1))  # rows are sorted (row-major nonzero per chunk)
    suppressed = np.zeros(num, bool)
    kept = []
    for i in range(num):
        if suppressed[i]:
            continue
        kept.append(i)
        suppressed[cols[starts[i]:starts[i + 1]]] = True
    keep = order[torch.as_tensor(kept, dtype=torch.long, device=dets.device)]
    return torch.cat([dets[keep], scores[keep, None]], 1), keep


def sparse_nms_cfg(nms_cfg: dict) -> dict:
    """An NMS config for mmcv's ``batched_nms``/mmdet's ``multiclass_nms``: ``'nms_rotated'`` runs
    :func:`nms_rotated_sparse` (same result, pruned pairs); anything else is left as it is."""
    nms_cfg = dict(nms_cfg)
    if nms_cfg.get('type') == 'nms_rotated':
        nms_cfg['type'] = nms_rotated_sparse
    return nms_cfg


@MODELS.register_module()
class OrientedRPNHead(RPNHead):
    """RPN head predicting oriented proposals from horizontal anchors (6 regression channels per anchor)."""

    def __init__(self, in_channels: int, num_classes: int = 1, anchor_generator: dict = ORIENTED_RPN_ANCHORS,
                 bbox_coder: dict = MIDPOINT_CODER, **kwargs):
        super().__init__(in_channels, num_classes=num_classes, anchor_generator=anchor_generator,
                         bbox_coder=bbox_coder, **kwargs)
        require_delta_coder(self, 'rpn_head', 6, 'the midpoint-offset coder')

    def _bbox_post_process(self, results: InstanceData, cfg, rescale: bool = False, with_nms: bool = True,
                           img_meta: dict | None = None) -> InstanceData:
        """Rescale, drop degenerate proposals (w or h <= ``min_bbox_size``, non-finite), NMS per level, keep
        ``max_per_img``. Proposals are :class:`RotatedBoxes`."""
        assert with_nms, '`with_nms` must be True in an RPN head'
        if rescale:
            results.bboxes = scale_boxes(results.bboxes, [1 / s for s in img_meta['scale_factor']])
        boxes = get_box_tensor(results.bboxes)
        w, h = get_box_wh(results.bboxes)
        min_size = max(float(cfg.get('min_bbox_size', 0)), 0.0)
        valid = (w > min_size) & (h > min_size) & torch.isfinite(boxes).all(-1) & torch.isfinite(results.scores)
        if not valid.all():
            results = results[valid]
        if len(results):
            boxes = get_box_tensor(results.bboxes)
            nms_cfg = copy.deepcopy(dict(cfg['nms']))
            if nms_cfg.get('type', 'nms') == 'nms_rotated':
                _, keep = batched_nms(boxes, results.scores, results.level_ids, sparse_nms_cfg(nms_cfg))
            else:  # horizontal NMS of the enclosing boxes (mmrotate's oriented RPN)
                _, keep = batched_nms(rbox_to_hbox(boxes), results.scores, results.level_ids, nms_cfg)
            results = results[keep][:cfg['max_per_img']]
            results.labels = results.scores.new_zeros(len(results), dtype=torch.long)
            del results.level_ids
        else:
            empty = InstanceData()
            empty.bboxes = empty_box_as(results.bboxes) if isinstance(results.bboxes, BaseBoxes) \
                else RotatedBoxes(results.scores.new_zeros(0, 5))
            empty.scores = results.scores.new_zeros(0)
            empty.labels = results.scores.new_zeros(0, dtype=torch.long)
            results = empty
        if not isinstance(results.bboxes, BaseBoxes):
            results.bboxes = RotatedBoxes(results.bboxes, clone=False)
        return results


C = 8
SWEEP_SAMPLES = {
    'OrientedRPNHead': ('mmdet', dict(type='OrientedRPNHead', in_channels=C, feat_channels=C),
                        lambda: ([torch.randn(2, C, s, s) for s in (16, 8, 4, 2, 1)],)),
}
