"""From the exported networks' raw outputs to detections and label maps, in torch, the way mmdet's dense heads
and mmseg's EncoderDecoder do it, so that onnxruntime's results equal PyTorch's. Every setting comes from the
ONNX file's metadata (see :mod:`convzoo.deploy.model_export`).

Detection (RetinaNet, SSD, Rotated RetinaNet). Level l gives ``cls_score_l`` (1, A*K, H_l, W_l) and
``bbox_pred_l`` (1, A*D, H_l, W_l): A anchors per position, K class outputs (a last background column for softmax
heads such as SSD's), D = 4 deltas (5 for rotated boxes).

1. scores: sigmoid, or softmax without the background column; rows in (y, x, anchor) order, as the anchors;
2. per level, the (anchor, class) pairs scoring above ``score_thr``, the ``nms_pre`` best;
3. their deltas decoded against their anchors (mmdet's anchor generator and box coder built from the metadata;
   horizontal boxes are clipped to the resized image);
4. boxes scaled back to the original image (divided by the resize factors);
5. boxes not wider and taller than ``min_bbox_size`` dropped;
6. greedy NMS within each class, best score first: a box goes when its IoU with a kept one is above the
   threshold (rotated boxes: at or above, IoU from mmcv's rotated-box kernel, as mmcv's ``nms``/``nms_rotated``);
   it stops after ``max_per_img`` boxes.

Segmentation: the logits are resized (bilinear) to the network input, cropped to the resized image (the rest is
padding), resized to the original image; the label is the argmax over classes (one channel: sigmoid above the
head's threshold).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import get_box_tensor, get_box_wh, scale_boxes
from torch import Tensor

from convzoo.structures.rotated_boxes import rotated_iou


class DetectionDecoder:
    """The detection post-processing described in the module doc, for one head's metadata."""

    def __init__(self, head: dict):
        self.prior_generator = TASK_UTILS.build(head['anchor_generator'])
        self.bbox_coder = TASK_UTILS.build(head['bbox_coder'])
        self.box_dim, self.sigmoid = head['box_dim'], head['use_sigmoid_cls']
        self.cls_out_channels, self.test_cfg = head['cls_out_channels'], head['test_cfg']

    def level_candidates(self, cls_score: Tensor, bbox_pred: Tensor, priors: Tensor):
        """Steps 1-2 on one level of one image (outputs without the batch axis): scores, labels, deltas, anchors."""
        logits = cls_score.permute(1, 2, 0).reshape(-1, self.cls_out_channels)
        deltas = bbox_pred.permute(1, 2, 0).reshape(-1, self.box_dim)
        scores = logits.sigmoid() if self.sigmoid else logits.softmax(-1)[:, :-1]
        above = scores > self.test_cfg.get('score_thr', 0)
        pairs = above.nonzero()
        values, order = scores[above].sort(descending=True)
        count = min(self.test_cfg.get('nms_pre', -1), len(pairs))  # mmdet's slice, also for nms_pre = -1
        anchors, labels = pairs[order[:count]].unbind(1)
        return values[:count], labels, deltas[anchors], priors[anchors]

    def __call__(self, cls_scores: list[Tensor], bbox_preds: list[Tensor], img_shape, scale_factor):
        """Boxes (a plain tensor, as mmdet's detectors return them), scores and labels for one image from its
        per-level outputs."""
        sizes = [score.shape[-2:] for score in cls_scores]
        priors = self.prior_generator.grid_priors(sizes, dtype=cls_scores[0].dtype, device=cls_scores[0].device)
        levels = [self.level_candidates(*parts) for parts in zip(cls_scores, bbox_preds, priors)]
        scores, labels, deltas, anchors = (torch.cat(part) for part in zip(*levels))
        boxes = self.bbox_coder.decode(anchors, deltas, max_shape=img_shape)
        boxes = scale_boxes(boxes, [1 / s for s in scale_factor])
        min_size = self.test_cfg.get('min_bbox_size', -1)
        if min_size >= 0:
            width, height = get_box_wh(boxes)
            big = (width > min_size) & (height > min_size)
            boxes, scores, labels = boxes[big], scores[big], labels[big]
        keep = greedy_nms(get_box_tensor(boxes), scores, labels, self.test_cfg['nms']['iou_threshold'],
                          self.test_cfg.get('max_per_img', len(scores)))
        return get_box_tensor(boxes)[keep], scores[keep], labels[keep]


def box_iou(box: Tensor, others: Tensor) -> Tensor:
    """IoU of one box (4: x1 y1 x2 y2, or 5: le90 cx cy w h theta) with each of ``others``."""
    if box.shape[-1] == 5:
        return rotated_iou(box[None], others)[0]
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    width = (torch.minimum(box[2], others[:, 2]) - torch.maximum(box[0], others[:, 0])).clamp(min=0)
    height = (torch.minimum(box[3], others[:, 3]) - torch.maximum(box[1], others[:, 1])).clamp(min=0)
    inter = width * height
    return inter / (area + areas - inter)


def greedy_nms(boxes: Tensor, scores: Tensor, labels: Tensor, iou_thr: float, max_keep: int) -> Tensor:
    """Indices of the boxes NMS keeps within each class, best score first, at most ``max_keep`` (step 6)."""
    order = scores.sort(descending=True)[1]
    boxes, labels = boxes[order], labels[order]
    alive = torch.ones(len(order), dtype=torch.bool)
    rotated = boxes.shape[-1] == 5
    kept: list[int] = []
    for i in range(len(order)):
        if len(kept) == max_keep:
            break
        if not alive[i]:
            continue
        kept.append(i)
        iou = box_iou(boxes[i], boxes[i + 1:])
        overlapping = iou >= iou_thr if rotated else iou > iou_thr
        alive[i + 1:] &= ~(overlapping & (labels[i + 1:] == labels[i]))
    return order[kept]


def segmentation_result(logits: Tensor, input_shape, img_shape, ori_shape, align_corners: bool,
                        threshold: float = 0.3) -> tuple[Tensor, Tensor]:
    """(scores (C, H, W) at the original size, labels (1, H, W)) from one image's logits (1, C, h, w)."""
    logits = F.interpolate(logits, size=tuple(input_shape), mode='bilinear', align_corners=align_corners)
    logits = logits[..., :img_shape[0], :img_shape[1]]
    logits = F.interpolate(logits, size=tuple(ori_shape), mode='bilinear', align_corners=align_corners)[0]
    if logits.shape[0] > 1:
        return logits, logits.argmax(dim=0, keepdim=True)
    scores = logits.sigmoid()
    return scores, (scores > threshold).to(scores)
