# mmseg's Cityscapes pipelines (random 0.5-2x rescaling of 2048x1024, 512x1024 crops) with every loaded sample
# checked by CheckSegSample (image/label sizes, label range), for the Cityscapes configs of this folder:
# `train_dataloader = dict(dataset=dict(pipeline={{_base_.checked_train_pipeline}}))`.
check = dict(type='CheckSegSample', num_classes=19)
checked_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    check,
    dict(type='RandomResize', scale=(2048, 1024), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(512, 1024), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
checked_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='LoadAnnotations'),
    check,
    dict(type='PackSegInputs'),
]
