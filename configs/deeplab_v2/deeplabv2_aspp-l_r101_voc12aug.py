# DeepLab v2, ResNet-101, ASPP-L on PASCAL VOC 2012 + SBD augmented training set (10,582 images), the paper's recipe:
# 321x321 crops, batch 10, 20k iterations, SGD (momentum 0.9, weight decay 5e-4), base lr 2.5e-4 with the classifier
# at 10x, "poly" decay with power 0.9. Evaluation: IoUMetric on VOC 2012 val (1,449 images).
_base_ = [
    './_base_/deeplabv2_r101-d8.py', 'mmseg::_base_/datasets/pascal_voc12_aug.py',
    'mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_20k.py'
]
crop_size = (321, 321)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor, decode_head=dict(num_classes=21))
check = dict(type='CheckSegSample', num_classes=21)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    check,
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='Pad', size=crop_size),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
    check,
    dict(type='PackSegInputs'),
]
voc = dict(type='PascalVOCDataset', data_root='data/VOCdevkit/VOC2012', pipeline=train_pipeline)
train_dataloader = dict(
    batch_size=10,
    dataset=dict(type='ConcatDataset', datasets=[
        dict(voc, data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
             ann_file='ImageSets/Segmentation/train.txt'),
        dict(voc, data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
             ann_file='ImageSets/Segmentation/aug.txt'),
    ]))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
auto_scale_lr = dict(enable=False, base_batch_size=10)  # the paper's batch of 10
optim_wrapper = dict(optimizer=dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=5e-4),
                     paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.0)}))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=20000, by_epoch=False)]
