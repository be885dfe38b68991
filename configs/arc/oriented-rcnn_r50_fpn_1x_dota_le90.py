# Oriented R-CNN, ResNet-50-FPN, 1x schedule, DOTA v1.0 single-scale (1024 x 1024 patches, gap 200), le90 boxes
# (Xie et al., ICCV 2021; mmrotate 1.x's configs/oriented_rcnn/oriented-rcnn-le90_r50_fpn_1x_dota.py): oriented RPN
# with midpoint-offset proposals (anchors: scale 8, ratios 0.5/1/2, strides 4-64), rotated RoIAlign 7x7, shared
# 2-fc head with class-agnostic (x, y, w, h, theta) deltas; SGD lr 0.005 for 2 images (mmrotate: 1 GPU x 2),
# momentum 0.9, weight decay 1e-4, gradient clipping 35, 12 epochs with steps at 8 and 11, 500 warm-up iterations,
# flips in three directions. mmrotate 0.x reports 75.69 mAP for this recipe (DOTA v1.0 test).
# Proposal NMS: rotated IoU 0.8 per level ('nms_rotated', convzoo's pruned exact rotated NMS); mmrotate suppresses by
# the proposals' horizontal boxes instead: rpn_proposal.nms.type='nms' / test_cfg.rpn.nms.type='nms' reproduce it.
# Data as in rotated_retinanet_r50_fpn_1x_dota_le90.py (split DOTA first, docs/rotated.md).
_base_ = './rotated_retinanet_r50_fpn_1x_dota_le90.py'
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'  # convzoo's safe, strict checkpoint loading, also under mmdet's/mmseg's tools

model = dict(
    _delete_=True,
    type='OrientedRCNN',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_size_divisor=32, boxtype2tensor=True),
    backbone=dict(type='ResNet', depth=50, num_stages=4, out_indices=(0, 1, 2, 3), frozen_stages=1,
                  norm_cfg=dict(type='BN', requires_grad=True), norm_eval=True, style='pytorch',
                  init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet50-0676ba61.pth')),
    neck=dict(type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256, num_outs=5),
    rpn_head=dict(
        type='OrientedRPNHead', in_channels=256, feat_channels=256,
        anchor_generator=dict(type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0], strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(type='MidpointOffsetCoder', angle_version='le90', target_means=[0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                        target_stds=[1.0, 1.0, 1.0, 1.0, 0.5, 0.5]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)),
    roi_head=dict(
        type='RotatedStandardRoIHead',
        bbox_roi_extractor=dict(type='RotatedSingleRoIExtractor',
                                roi_layer=dict(type='RoIAlignRotated', output_size=7, sampling_ratio=2, clockwise=True),
                                out_channels=256, featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(
            type='RotatedShared2FCBBoxHead', in_channels=256, fc_out_channels=1024, roi_feat_size=7, num_classes=15,
            predict_box_type='rbox', reg_class_agnostic=True,
            bbox_coder=dict(type='DeltaXYWHTCoder', target_means=(0.0, 0.0, 0.0, 0.0, 0.0),
                            target_stds=(0.1, 0.1, 0.2, 0.2, 0.1), proj_xy=True, edge_swap=True),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3,
                          match_low_quality=True, ignore_iof_thr=-1, iou_calculator=dict(type='RBbox2HBboxOverlaps2D')),
            sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1, add_gt_as_proposals=False),
            allowed_border=0, pos_weight=-1, debug=False),
        rpn_proposal=dict(nms_pre=2000, max_per_img=2000, nms=dict(type='nms_rotated', iou_threshold=0.8),
                          min_bbox_size=0),
        rcnn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
                          match_low_quality=False, ignore_iof_thr=-1, iou_calculator=dict(type='RotatedBoxOverlaps2D')),
            sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25, neg_pos_ub=-1, add_gt_as_proposals=True),
            pos_weight=-1, debug=False)),
    test_cfg=dict(
        rpn=dict(nms_pre=2000, max_per_img=2000, nms=dict(type='nms_rotated', iou_threshold=0.8), min_bbox_size=0),
        rcnn=dict(nms_pre=2000, min_bbox_size=0, score_thr=0.05, nms=dict(type='nms_rotated', iou_threshold=0.1),
                  max_per_img=2000)))

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.005, momentum=0.9, weight_decay=0.0001),
                     clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0 / 3, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
auto_scale_lr = dict(base_batch_size=2)
