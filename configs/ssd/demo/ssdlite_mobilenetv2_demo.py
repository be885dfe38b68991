# SSD (Liu et al., ECCV 2016) on the embedded dataset, CPU-sized: SSDLite with a MobileNetV2 (width 0.5) backbone,
# mmdet's SSDNeck and SSDHead (hard negative mining 3:1, smooth L1, 0.5-IoU matching), 160 px input, six
# prediction levels (10x10 ... 1x1) with anchors scaled to the 10-72 px objects. Trained like the RetinaNet demos
# (same data pipeline and optimiser; 24 epochs instead of 12, see the end) with retinanet_baseline_demo.py as the
# reference detector; the SSD paper's photometric/expand/min-IoU-crop augmentation is in the full configs
# (configs/ssd/ssd*.py).
_base_ = '../../_base_/retinanet_shapes_demo.py'
norm_cfg = dict(type='BN', eps=0.001, momentum=0.03)
model = dict(
    _delete_=True,
    type='SingleStageDetector',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_size_divisor=1),
    backbone=dict(type='MobileNetV2', widen_factor=0.5, out_indices=(4, 7), norm_cfg=norm_cfg,
                  init_cfg=dict(type='TruncNormal', layer='Conv2d', std=0.03)),
    neck=dict(type='SSDNeck', in_channels=(48, 1280), out_channels=(48, 1280, 256, 128, 128, 64),
              level_strides=(2, 2, 2, 2), level_paddings=(1, 1, 1, 1), l2_norm_scale=None, use_depthwise=True,
              norm_cfg=norm_cfg, act_cfg=dict(type='ReLU6'),
              init_cfg=dict(type='TruncNormal', layer='Conv2d', std=0.03)),
    bbox_head=dict(
        type='SSDHead', in_channels=(48, 1280, 256, 128, 128, 64), num_classes=3, use_depthwise=True,
        norm_cfg=norm_cfg, act_cfg=dict(type='ReLU6'), init_cfg=dict(type='Normal', layer='Conv2d', std=0.001),
        anchor_generator=dict(type='SSDAnchorGenerator', scale_major=False, strides=[16, 32, 53, 80, 160, 160],
                              ratios=[[2, 3]] * 6, min_sizes=[12, 24, 40, 64, 96, 128],
                              max_sizes=[24, 40, 64, 96, 128, 160]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0], target_stds=[0.1, 0.1, 0.2, 0.2])),
    train_cfg=dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0., ignore_iof_thr=-1,
                      gt_max_assign_all=False),
        sampler=dict(type='PseudoSampler'), smoothl1_beta=1., allowed_border=-1, pos_weight=-1, neg_pos_ratio=3,
        debug=False),
    test_cfg=dict(nms_pre=1000, nms=dict(type='nms', iou_threshold=0.45), min_bbox_size=0, score_thr=0.02,
                  max_per_img=50))

# Schedule: 24 epochs (the RetinaNet demos' AdamW recipe, cosine over 24 epochs instead of 12). SSD's loss (hard
# negative mining, summed over 3 negatives per positive and normalised by the positives) trains a from-scratch
# MobileNetV2 much more slowly than RetinaNet's focal loss: 4 epochs gave 0.015 mAP. Differences from the full
# configs (configs/ssd/ssdlite_mobilenetv2_*.py = mmdet's from-scratch recipe; the paper's SSD300/512 use a VGG16):
# AdamW lr 2e-3, batch 8, 24 epochs instead of SGD lr 0.015, batch 192, 120 epochs; no photometric/expand/
# min-IoU-crop augmentation; width 0.5 instead of 1.0; 160 px instead of 320 px; anchors for 10-72 px objects.
max_epochs = 24
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, eta_min_ratio=0.01,
         convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
