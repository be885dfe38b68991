# CPU-sized RetinaNet on the embedded COCO-format dataset 'coco_shapes' (generated on first use into
# data/embedded/coco_shapes from scikit-image's bundled photos). A small ResNet-18 (16 base channels) trained from
# scratch and 64-channel necks/heads: the paper's structure at a size 2 CPU cores train in minutes.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'  # convzoo's safe, strict checkpoint loading, also under mmdet's/mmseg's tools

data_root = 'data/embedded/coco_shapes/'
metainfo = dict(classes=('disc', 'rectangle', 'triangle'), palette=[(220, 20, 60), (0, 120, 255), (0, 170, 0)])
image_size = 160
channels = 64

fpn = dict(type='FPN', in_channels=[32, 64, 128], out_channels=channels, start_level=0,
           add_extra_convs='on_input', num_outs=5)
sepc = dict(type='SEPC', in_channels=[channels] * 5, out_channels=channels, num_outs=5, stacked_convs=4,
            pconv_deform=True, lcconv_deform=True, ibn=True, norm_cfg=dict(type='BN', requires_grad=True))
sepc_lite = dict(sepc, pconv_deform=False)
ibn_pconv = dict(sepc_lite, lcconv_deform=False)
pconv = dict(ibn_pconv, ibn=False)

model = dict(
    backbone=dict(depth=18, base_channels=16, out_indices=(1, 2, 3), frozen_stages=-1, norm_eval=False,
                  init_cfg=None),
    neck=fpn,
    bbox_head=dict(num_classes=3, in_channels=channels, feat_channels=channels,
                   anchor_generator=dict(octave_base_scale=2)),
    test_cfg=dict(score_thr=0.05, max_per_img=50))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=8, num_workers=2,
    dataset=dict(type='EmbeddedCocoDataset', data_root=data_root, metainfo=metainfo, ann_file='annotations/train.json',
                 data_prefix=dict(img=''), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=2,
    dataset=dict(type='EmbeddedCocoDataset', data_root=data_root, metainfo=metainfo, ann_file='annotations/val.json',
                 data_prefix=dict(img=''), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
                     clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, eta_min_ratio=0.01,
         convert_to_iter_based=True),
]
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
auto_scale_lr = dict(base_batch_size=8)
