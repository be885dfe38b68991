# Plain Faster R-CNN (ResNet-18 with 16 base channels, FPN P2-P6 with 64 channels) on the embedded dataset, trained
# like the RetinaNet demos (same data, schedule, optimiser): the baseline the DN-FPN demo is compared with.
# Anchors are 4x smaller than COCO's (scale 2: 8-128 px) for 160 px images.
_base_ = '../../_base_/retinanet_shapes_demo.py'
channels = 64
# the DN-FPN loss of the dn_fpn_*_demo.py configs: C2-C5 paired with P2-P5, 64-channel embeddings, summed over
# (level, image) terms as the reference, weight 0.01 = the reference's latest code (the paper says 0.1). Why not 0.1
# here: in a one-phase run from scratch the summed terms (8 images x 4 levels) times 0.1 were ~20 at the start and
# still ~9.5 after 4 epochs, against ~1 for all the detector's losses together, and took over the backbone's
# gradients (4-epoch run: tiny mAP 0.206 without DN-FPN, 0.019 with it); at 0.01 they go from ~2 to ~0.9 in 6
# epochs. 0.01 is the maintainers' own fix for that instability (their other fix, the two-phase schedule, is
# configs/dn_fpn/cascade-rcnn_r50_dn-fpn_1x_aitod_phase1/2.py). The baseline is trained with the same schedule.
dn_fpn = dict(type='DNFPNContrastiveLoss', in_channels=(16, 32, 64, 128), channels=channels, loss_weight=0.01)
model = dict(
    _delete_=True,
    type='FasterRCNN',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(type='ResNet', depth=18, base_channels=16, num_stages=4, out_indices=(0, 1, 2, 3),
                  frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False, style='pytorch',
                  init_cfg=None),
    neck=dict(type='FPN', in_channels=[16, 32, 64, 128], out_channels=channels, num_outs=5),
    rpn_head=dict(
        type='RPNHead', in_channels=channels, feat_channels=channels,
        anchor_generator=dict(type='AnchorGenerator', scales=[2], ratios=[0.5, 1.0, 2.0], strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0], target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        type='StandardRoIHead',
        bbox_roi_extractor=dict(type='SingleRoIExtractor',
                                roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
                                out_channels=channels, featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(
            type='Shared2FCBBoxHead', in_channels=channels, fc_out_channels=256, roi_feat_size=7, num_classes=3,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.], target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3,
                          match_low_quality=True, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1, add_gt_as_proposals=False),
            allowed_border=-1, pos_weight=-1, debug=False),
        rpn_proposal=dict(nms_pre=1000, max_per_img=300, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
        rcnn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
                          match_low_quality=False, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=128, pos_fraction=0.25, neg_pos_ub=-1, add_gt_as_proposals=True),
            pos_weight=-1, debug=False)),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=300, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
        rcnn=dict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=50)))
# COCO AP plus AI-TOD's very tiny / tiny / small / medium bins
val_evaluator = dict(type='SizeBinCocoMetric')
test_evaluator = val_evaluator
