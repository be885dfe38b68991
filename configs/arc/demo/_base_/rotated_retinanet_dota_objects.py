# CPU-sized Rotated RetinaNet on the embedded DOTA-format dataset 'dota_objects' (generated on first use into
# data/embedded/dota_objects: 384 x 384 images split into 256 x 256 patches, gap 64). The paper config's structure
# at a size 2 CPU cores train in 10-25 minutes: a ResNet-50 with 16 base channels trained from scratch, 64-channel
# FPN/head with two stacked convs, three pyramid levels, one anchor scale (3 anchors per position). Validation
# merges the patch detections back to the full 384 x 384 images and scores them against the full images' labels
# (DOTA mAP, area under the PR curve, IoU 0.5). Run with OMP_NUM_THREADS=1 on a busy machine.
_base_ = '../../rotated_retinanet_r50_fpn_1x_dota_le90.py'

data_root = 'data/embedded/dota_objects/'
metainfo = dict(classes=('plane', 'ship', 'large-vehicle', 'tennis-court'),
                palette=[(220, 20, 60), (0, 120, 255), (0, 170, 0), (255, 160, 0)])
patch_size = 256
channels = 64

model = dict(
    backbone=dict(depth=50, base_channels=16, out_indices=(1, 2, 3), frozen_stages=-1, norm_eval=False,
                  init_cfg=None),
    neck=dict(in_channels=[128, 256, 512], out_channels=channels, start_level=0, num_outs=3),
    bbox_head=dict(num_classes=4, in_channels=channels, feat_channels=channels, stacked_convs=2,
                   anchor_generator=dict(octave_base_scale=4, scales_per_octave=1, strides=[8, 16, 32])),
    test_cfg=dict(nms_pre=500, max_per_img=100))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, box_type='rbox'),
    dict(type='Resize', scale=(patch_size, patch_size), keep_ratio=True, clip_object_border=False),
    dict(type='RandomFlip', prob=0.75, direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(patch_size, patch_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, box_type='rbox'),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
patches = f'split_{patch_size}/'
train_dataloader = dict(
    batch_size=4, num_workers=2,
    dataset=dict(data_root=data_root, metainfo=metainfo, img_suffix='jpg', ann_file=patches + 'train/labelTxt/',
                 data_prefix=dict(img=patches + 'train/images/'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=2,
    dataset=dict(data_root=data_root, metainfo=metainfo, img_suffix='jpg', ann_file=patches + 'val/labelTxt/',
                 data_prefix=dict(img=patches + 'val/images/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(full_ann_dir=data_root + 'val/labelTxt/')
test_evaluator = dict(_delete_=True, type='DOTAMetric', eval_mode='area', merge_patches=True, merge_iou_thr=0.1,
                      full_ann_dir=data_root + 'val/labelTxt/')

max_epochs = 8
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
                     clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, eta_min_ratio=0.01,
         convert_to_iter_based=True),
]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
auto_scale_lr = dict(base_batch_size=4)
infer_split = dict(size=patch_size, gap=64, iou_thr=0.1)
