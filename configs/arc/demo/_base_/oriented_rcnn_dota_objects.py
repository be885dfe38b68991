# CPU-sized Oriented R-CNN on the embedded DOTA-format dataset 'dota_objects': the data, schedule, image and model
# sizes of the Rotated RetinaNet demos (./rotated_retinanet_dota_objects.py: 256 x 256 patches, gap 64, validation
# on the merged 384 x 384 images; ResNet-50 with 16 base channels from scratch, 64-channel FPN with three levels,
# strides 8-32; AdamW, 8 epochs, cosine) with the structure of ../../oriented-rcnn_r50_fpn_1x_dota_le90.py: oriented
# RPN (one anchor scale, 3 ratios per position, as the RetinaNet demo's anchors), rotated RoIAlign 7x7 over the three
# levels, a 2-fc head of 256 channels, fewer proposals and RoIs per patch. Run with OMP_NUM_THREADS=1.
_base_ = './rotated_retinanet_dota_objects.py'
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'

channels = 64
model = dict(
    _delete_=True,
    type='OrientedRCNN',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_size_divisor=32, boxtype2tensor=True),
    backbone=dict(type='ResNet', depth=50, base_channels=16, num_stages=4, out_indices=(1, 2, 3), frozen_stages=-1,
                  norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False, style='pytorch', init_cfg=None),
    neck=dict(type='FPN', in_channels=[128, 256, 512], out_channels=channels, start_level=0, num_outs=3),
    rpn_head=dict(
        type='OrientedRPNHead', in_channels=channels, feat_channels=channels,
        anchor_generator=dict(type='AnchorGenerator', scales=[4], ratios=[0.5, 1.0, 2.0], strides=[8, 16, 32]),
        bbox_coder=dict(type='MidpointOffsetCoder', angle_version='le90', target_means=[0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                        target_stds=[1.0, 1.0, 1.0, 1.0, 0.5, 0.5]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)),
    roi_head=dict(
        type='RotatedStandardRoIHead',
        bbox_roi_extractor=dict(type='RotatedSingleRoIExtractor',
                                roi_layer=dict(type='RoIAlignRotated', output_size=7, sampling_ratio=2, clockwise=True),
                                out_channels=channels, featmap_strides=[8, 16, 32]),
        bbox_head=dict(
            type='RotatedShared2FCBBoxHead', in_channels=channels, fc_out_channels=256, roi_feat_size=7, num_classes=4,
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
        rpn_proposal=dict(nms_pre=1000, max_per_img=1000, nms=dict(type='nms_rotated', iou_threshold=0.8),
                          min_bbox_size=0),
        rcnn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
                          match_low_quality=False, ignore_iof_thr=-1, iou_calculator=dict(type='RotatedBoxOverlaps2D')),
            sampler=dict(type='RandomSampler', num=256, pos_fraction=0.25, neg_pos_ub=-1, add_gt_as_proposals=True),
            pos_weight=-1, debug=False)),
    test_cfg=dict(
        rpn=dict(nms_pre=1000, max_per_img=1000, nms=dict(type='nms_rotated', iou_threshold=0.8), min_bbox_size=0),
        rcnn=dict(nms_pre=500, min_bbox_size=0, score_thr=0.05, nms=dict(type='nms_rotated', iou_threshold=0.1),
                  max_per_img=100)))
