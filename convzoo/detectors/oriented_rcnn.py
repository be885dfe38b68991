"""Oriented R-CNN (Xie et al., "Oriented R-CNN for Object Detection", ICCV 2021) on mmdet 3.3: mmdet's two-stage
detector with the oriented RPN (midpoint-offset proposals) and the rotated RoI head of ``convzoo/heads/``.

Module names are Faster R-CNN's (``backbone``, ``neck``, ``rpn_head``, ``roi_head``), which is the layout of
mmrotate 1.x's Oriented R-CNN (``mmdet.FasterRCNN`` + ``OrientedRPNHead`` + ``mmdet.StandardRoIHead``), so its
released weights load after :mod:`convzoo.converters.oriented_rcnn`. Boxes are le90 everywhere; a config that asks
for another angle convention, box type or RoI angle direction is refused, naming the key.
"""
from __future__ import annotations

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from convzoo.core.errors import ConfigError

# (config path under model, value le90 needs): the places mmrotate configs name the angle convention
LE90_KEYS = (('angle_version', 'le90'), ('rpn_head.bbox_coder.angle_version', 'le90'),
             ('roi_head.bbox_head.bbox_coder.angle_version', 'le90'),
             ('roi_head.bbox_head.predict_box_type', 'rbox'),
             ('roi_head.bbox_roi_extractor.roi_layer.clockwise', True))


def check_le90(model_cfg: dict) -> None:
    """Refuse a model config that asks for anything but le90 rotated boxes, naming the key."""
    for path, wanted in LE90_KEYS:
        node = model_cfg
        for part in path.split('.'):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None and node != wanted:
            raise ConfigError(f'model.{path}={node!r}: convzoo rotated detectors use le90 boxes only (w >= h, '
                              f'-90 <= theta < 90 degrees, clockwise as displayed); set model.{path}={wanted!r}')


@MODELS.register_module()
class OrientedRCNN(TwoStageDetector):
    """Two-stage rotated detector: backbone, neck, ``OrientedRPNHead``, ``RotatedStandardRoIHead``.

    ``angle_version`` is accepted for mmrotate-style configs and must be ``'le90'``.
    """

    def __init__(self, backbone: dict, rpn_head: dict, roi_head: dict, train_cfg: dict, test_cfg: dict,
                 neck: dict | None = None, data_preprocessor: dict | None = None, init_cfg=None,
                 angle_version: str = 'le90'):
        check_le90(dict(angle_version=angle_version, rpn_head=rpn_head, roi_head=roi_head))
        if rpn_head is None or roi_head is None:
            raise ConfigError('model.rpn_head / model.roi_head: Oriented R-CNN needs both')
        train_cfg = ConfigDict(train_cfg) if isinstance(train_cfg, dict) else train_cfg  # plain dicts too
        test_cfg = ConfigDict(test_cfg) if isinstance(test_cfg, dict) else test_cfg
        super().__init__(backbone=backbone, neck=neck, rpn_head=rpn_head, roi_head=roi_head, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.angle_version = angle_version


def tiny_model_cfg(num_classes: int = 3, channels: int = 16) -> dict:
    """A small Oriented R-CNN (ResNet-18 with 8 base channels, 4 FPN levels): for tests and the registry sweep."""
    return dict(
        type='OrientedRCNN',
        data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                               bgr_to_rgb=True, pad_size_divisor=32, boxtype2tensor=True),
        backbone=dict(type='ResNet', depth=18, base_channels=8, num_stages=4, out_indices=(0, 1, 2, 3),
                      frozen_stages=-1, norm_eval=False, init_cfg=None),
        neck=dict(type='FPN', in_channels=[8, 16, 32, 64], out_channels=channels, num_outs=5),
        rpn_head=dict(type='OrientedRPNHead', in_channels=channels, feat_channels=channels,
                      anchor_generator=dict(type='AnchorGenerator', scales=[4], ratios=[0.5, 1.0, 2.0],
                                            strides=[4, 8, 16, 32, 64]),
                      bbox_coder=dict(type='MidpointOffsetCoder', angle_version='le90', target_means=[0.0] * 6,
                                      target_stds=[1.0, 1.0, 1.0, 1.0, 0.5, 0.5]),
                      loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
                      loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)),
        roi_head=dict(type='RotatedStandardRoIHead',
                      bbox_roi_extractor=dict(type='RotatedSingleRoIExtractor',
                                              roi_layer=dict(type='RoIAlignRotated', output_size=7, sampling_ratio=2,
                                                             clockwise=True),
                                              out_channels=channels, featmap_strides=[4, 8, 16, 32]),
                      bbox_head=dict(type='RotatedShared2FCBBoxHead', in_channels=channels, fc_out_channels=32,
                                     roi_feat_size=7, num_classes=num_classes,
                                     bbox_coder=dict(type='DeltaXYWHTCoder', target_means=(0.,) * 5,
                                                     target_stds=(0.1, 0.1, 0.2, 0.2, 0.1)),
                                     loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                                     loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))),
        train_cfg=dict(
            rpn=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3,
                                   match_low_quality=True, ignore_iof_thr=-1,
                                   iou_calculator=dict(type='RBbox2HBboxOverlaps2D')),
                     sampler=dict(type='RandomSampler', num=64, pos_fraction=0.5, neg_pos_ub=-1,
                                  add_gt_as_proposals=False),
                     allowed_border=0, pos_weight=-1, debug=False),
            rpn_proposal=dict(nms_pre=300, max_per_img=100, nms=dict(type='nms_rotated', iou_threshold=0.8),
                              min_bbox_size=0),
            rcnn=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
                                    match_low_quality=False, ignore_iof_thr=-1,
                                    iou_calculator=dict(type='RotatedBoxOverlaps2D')),
                      sampler=dict(type='RandomSampler', num=64, pos_fraction=0.25, neg_pos_ub=-1,
                                   add_gt_as_proposals=True),
                      pos_weight=-1, debug=False)),
        test_cfg=dict(
            rpn=dict(nms_pre=300, max_per_img=100, nms=dict(type='nms_rotated', iou_threshold=0.8), min_bbox_size=0),
            rcnn=dict(nms_pre=300, min_bbox_size=0, score_thr=0.05, nms=dict(type='nms_rotated', iou_threshold=0.1),
                      max_per_img=100)))


def _sweep_args():
    size = (64, 64)
    samples = []
    for boxes in ([[20., 24., 24., 12., 0.4], [44., 40., 30., 14., -0.9]], [[32., 30., 20., 10., 1.2]]):
        sample = DetDataSample(metainfo=dict(img_shape=size, pad_shape=size, batch_input_shape=size, ori_shape=size,
                                             scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(bboxes=torch.tensor(boxes), labels=torch.arange(len(boxes)))
        samples.append(sample)
    return torch.randn(2, 3, *size), samples, 'loss'


SWEEP_SAMPLES = {'OrientedRCNN': ('mmdet', tiny_model_cfg(), _sweep_args)}
