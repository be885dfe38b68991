"""Rotated RoI head of Oriented R-CNN (Xie et al., ICCV 2021) on mmdet 3.3: rotated RoI features, a shared 2-fc box
head regressing (x, y, w, h, theta) deltas, and mmdet's StandardRoIHead made safe for rotated proposals.

* :class:`RotatedSingleRoIExtractor`: mmcv's ``RoIAlignRotated`` per pyramid level; an RoI ``(b, cx, cy, w, h,
  theta)`` goes to level ``floor(log2(sqrt(w h) / finest_scale))`` (FPN's rule on the rotated box's own area).
  le90 angles are clockwise as displayed, which is ``RoIAlignRotated(clockwise=True)``: its output's columns then
  run along the box's width side u = (cos, sin) and its rows along v = (-sin, cos), and with ``aligned=True`` (the
  default) an axis-aligned RoI samples exactly where mmcv's ``RoIAlign(aligned=True)`` does (tested).
* :class:`RotatedShared2FCBBoxHead`: mmdet's ``Shared2FCBBoxHead`` (``shared_fcs``, ``fc_cls``, ``fc_reg``: the
  checkpoint layout of mmrotate 1.x, which uses ``mmdet.Shared2FCBBoxHead(predict_box_type='rbox')``), class-
  agnostic regression with convzoo's le90 :class:`~convzoo.heads.rotated_anchor_coder.DeltaXYWHTCoder`.
* :class:`RotatedStandardRoIHead`: drops proposals that are non-finite or thinner than ``min_proposal_size``
  before assignment and prediction, keeps proposals and ground truth of one box kind for mmdet's samplers, and
  runs the test NMS (``nms_rotated``) through the pruned exact rotated NMS of the oriented RPN.

Assignment and sampling are mmdet's ``MaxIoUAssigner`` with ``RotatedBoxOverlaps2D`` and ``RandomSampler``.
"""
from __future__ import annotations

import copy

import torch
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.models.roi_heads.roi_extractors.base_roi_extractor import BaseRoIExtractor
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import get_box_tensor
from mmengine.structures import InstanceData
from torch import Tensor
from torch.nn.modules.utils import _pair

from convzoo.core.errors import ConfigError
from convzoo.heads.midpoint_offset_coder import check_angle_version
from convzoo.heads.oriented_rpn_head import sparse_nms_cfg
from convzoo.heads.rotated_anchor_coder import require_delta_coder
from convzoo.structures.rotated_boxes import RotatedBoxes

ROTATED_ROI_LAYER = dict(type='RoIAlignRotated', output_size=7, sampling_ratio=2, clockwise=True)
RBOX_CODER = dict(type='DeltaXYWHTCoder', target_means=(0., 0., 0., 0., 0.), target_stds=(0.1, 0.1, 0.2, 0.2, 0.1),
                  proj_xy=True, edge_swap=True)


@MODELS.register_module()
class RotatedSingleRoIExtractor(BaseRoIExtractor):
    """Rotated RoI features from the pyramid level that suits each RoI's area.

    Args:
        roi_layer: mmcv op config, ``RoIAlignRotated`` (``clockwise`` defaults to True here: le90).
        out_channels: channels of the features.
        featmap_strides: strides of the levels used.
        finest_scale: RoIs with sqrt(w h) < 2 * finest_scale go to the first level (FPN: 56).
    """

    def __init__(self, roi_layer: dict = ROTATED_ROI_LAYER, out_channels: int = 256,
                 featmap_strides=(4, 8, 16, 32), finest_scale: int = 56, init_cfg=None):
        roi_layer = dict(roi_layer)
        if roi_layer.get('type') != 'RoIAlignRotated':
            raise ConfigError(f"bbox_roi_extractor.roi_layer.type={roi_layer.get('type')!r}: "
                              f"{type(self).__name__} needs mmcv's 'RoIAlignRotated'")
        if not roi_layer.setdefault('clockwise', True):
            raise ConfigError('bbox_roi_extractor.roi_layer.clockwise=False: le90 angles turn clockwise as displayed; '
                              'set clockwise=True')
        super().__init__(roi_layer, out_channels, list(featmap_strides), init_cfg)
        self.finest_scale = finest_scale

    @property
    def output_size(self) -> tuple[int, int]:
        return _pair(self.roi_layers[0].output_size)

    def map_roi_levels(self, rois: Tensor, num_levels: int) -> Tensor:
        scale = torch.sqrt((rois[:, 3] * rois[:, 4]).clamp(min=0))
        levels = torch.floor(torch.log2(scale / self.finest_scale + 1e-6))
        return levels.clamp(min=0, max=num_levels - 1).long()

    def roi_rescale(self, rois: Tensor, scale_factor: float) -> Tensor:
        rois = rois.clone()
        rois[:, 3:5] = rois[:, 3:5] * scale_factor
        return rois

    def forward(self, feats, rois: Tensor, roi_scale_factor: float | None = None) -> Tensor:
        """feats: pyramid levels (B, C, H, W); rois: (K, 6) ``(batch index, cx, cy, w, h, theta)``."""
        # mmcv's CPU kernel reads raw memory: non-contiguous inputs (expanded or transposed views) give garbage
        feats = [f.contiguous() for f in feats]
        rois = rois.type_as(feats[0]).contiguous()
        out = feats[0].new_zeros(len(rois), self.out_channels, *self.output_size)
        if roi_scale_factor is not None:
            rois = self.roi_rescale(rois, roi_scale_factor).contiguous()
        num_levels = len(feats)
        if num_levels == 1:
            return self.roi_layers[0](feats[0], rois) if len(rois) else out + feats[0].sum() * 0
        levels = self.map_roi_levels(rois, num_levels)
        for i in range(num_levels):
            index = (levels == i).nonzero(as_tuple=True)[0]
            if len(index):
                out[index] = self.roi_layers[i](feats[i], rois[index].contiguous())
            else:  # keep every level in the graph (distributed training expects the same graph on every rank)
                out = out + feats[i].sum() * 0
        return out


@MODELS.register_module()
class RotatedShared2FCBBoxHead(Shared2FCBBoxHead):
    """Shared 2-fc box head for le90 rotated boxes: (num_classes + 1) scores and 5 class-agnostic deltas.

    Refuses a box type other than ``'rbox'``, a coder whose ``angle_version`` is not le90 or that is not a 5-delta
    coder, and decoded-box regression.
    """

    def __init__(self, *args, bbox_coder: dict = RBOX_CODER, predict_box_type: str = 'rbox',
                 reg_class_agnostic: bool = True, **kwargs):
        if predict_box_type != 'rbox':
            raise ConfigError(f'bbox_head.predict_box_type={predict_box_type!r}: {type(self).__name__} predicts le90 '
                              "rotated boxes; set predict_box_type='rbox'")
        bbox_coder = dict(bbox_coder)
        check_angle_version(bbox_coder.pop('angle_version', 'le90'), 'bbox_head.bbox_coder.angle_version')
        if bbox_coder.pop('norm_factor', None) is not None:
            raise ConfigError('bbox_head.bbox_coder.norm_factor: angle normalisation by a factor is not supported; '
                              'use target_stds')
        super().__init__(*args, bbox_coder=bbox_coder, predict_box_type=predict_box_type,
                         reg_class_agnostic=reg_class_agnostic, **kwargs)
        require_delta_coder(self, 'bbox_head', 5, 'a rotated box coder')


@MODELS.register_module()
class RotatedStandardRoIHead(StandardRoIHead):
    """StandardRoIHead for rotated proposals (bbox only).

    Args:
        min_proposal_size: proposals whose w or h is not larger (or that are not finite) are dropped before
            assignment and prediction: a zero-area RoI has no features and no defined regression target.
    """

    def __init__(self, bbox_roi_extractor: dict | None = None, bbox_head: dict | None = None,
                 min_proposal_size: float = 1e-3, **kwargs):
        if kwargs.get('mask_head') is not None or kwargs.get('mask_roi_extractor') is not None:
            raise ConfigError('roi_head.mask_head: rotated RoI heads predict boxes only; remove mask_head')
        if bbox_roi_extractor is None:
            bbox_roi_extractor = dict(type='RotatedSingleRoIExtractor', roi_layer=ROTATED_ROI_LAYER,
                                      out_channels=256, featmap_strides=[4, 8, 16, 32])
        super().__init__(bbox_roi_extractor=bbox_roi_extractor, bbox_head=bbox_head, **kwargs)
        self.min_proposal_size = min_proposal_size

    def usable_proposals(self, results: InstanceData, like=None) -> InstanceData:
        """The proposals that have an area, as :class:`RotatedBoxes` (or a tensor when ``like`` is a tensor)."""
        results = results.clone()
        boxes = get_box_tensor(results.bboxes)
        if boxes.size(-1) != 5:
            raise ValueError(f'{type(self).__name__} needs rotated proposals (N, 5), got {tuple(boxes.shape)}')
        keep = torch.isfinite(boxes).all(-1) & (boxes[:, 2] > self.min_proposal_size) & \
            (boxes[:, 3] > self.min_proposal_size)
        if not keep.all():
            results = results[keep]
            boxes = boxes[keep]
        results.bboxes = boxes if isinstance(like, Tensor) else RotatedBoxes(boxes, clone=False)
        return results

    def loss(self, x, rpn_results_list, batch_data_samples: list[DetDataSample]) -> dict:
        rpn_results_list = [self.usable_proposals(r, s.gt_instances.bboxes)
                            for r, s in zip(rpn_results_list, batch_data_samples)]
        return super().loss(x, rpn_results_list, batch_data_samples)

    def predict_bbox(self, x, batch_img_metas, rpn_results_list, rcnn_test_cfg=None, rescale: bool = False):
        rpn_results_list = [self.usable_proposals(r) for r in rpn_results_list]
        if rcnn_test_cfg is not None:
            rcnn_test_cfg = copy.copy(rcnn_test_cfg)
            rcnn_test_cfg.nms = sparse_nms_cfg(rcnn_test_cfg.nms)
        return super().predict_bbox(x, batch_img_metas, rpn_results_list, rcnn_test_cfg, rescale)

    def forward(self, x, rpn_results_list, batch_data_samples=None) -> tuple:
        return super().forward(x, [self.usable_proposals(r) for r in rpn_results_list], batch_data_samples)


C = 8


def _rois() -> Tensor:
    boxes = torch.tensor([[0, 20., 20., 16., 8., 0.3], [1, 30., 12., 40., 10., -1.2], [0, 40., 40., 120., 60., 0.5]])
    return boxes


def _proposals() -> list:
    return [InstanceData(bboxes=RotatedBoxes(torch.tensor([[20., 20., 16., 8., 0.3], [40., 40., 80., 30., -0.5]]))),
            InstanceData(bboxes=RotatedBoxes(torch.tensor([[30., 12., 40., 10., -1.2]])))]


SWEEP_SAMPLES = {
    'RotatedSingleRoIExtractor': (
        'mmdet', dict(type='RotatedSingleRoIExtractor', out_channels=C, featmap_strides=[4, 8]),
        lambda: ([torch.randn(2, C, 16, 16, requires_grad=True), torch.randn(2, C, 8, 8, requires_grad=True)],
                 _rois())),
    'RotatedShared2FCBBoxHead': (
        'mmdet', dict(type='RotatedShared2FCBBoxHead', in_channels=C, fc_out_channels=16, roi_feat_size=7,
                      num_classes=3),
        lambda: (torch.randn(4, C, 7, 7),)),
    'RotatedStandardRoIHead': (
        'mmdet', dict(type='RotatedStandardRoIHead',
                      bbox_roi_extractor=dict(type='RotatedSingleRoIExtractor', out_channels=C,
                                              featmap_strides=[4, 8]),
                      bbox_head=dict(type='RotatedShared2FCBBoxHead', in_channels=C, fc_out_channels=16,
                                     roi_feat_size=7, num_classes=3)),
        lambda: ([torch.randn(2, C, 16, 16), torch.randn(2, C, 8, 8)], _proposals())),
}
