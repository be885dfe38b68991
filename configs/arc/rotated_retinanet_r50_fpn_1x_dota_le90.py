# Rotated RetinaNet, ResNet-50-FPN, 1x schedule, DOTA v1.0 single-scale (1024 x 1024 patches, gap 200), le90 boxes:
# the baseline of the ARC paper's RetinaNet comparison (mmrotate's le90 recipe: SGD lr 0.0025 for 2 images,
# gradient clipping 35, flips in three directions, rotated NMS at IoU 0.1, up to 2000 boxes per patch).
# Data: split DOTA first (docs/rotated.md): data/split_ss_dota/{trainval,val,test}/{images,labelTxt}; the val
# metric merges patch detections back to full images and scores them against data/DOTA/val/labelTxt.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'  # convzoo's safe, strict checkpoint loading, also under mmdet's/mmseg's tools

data_root = 'data/split_ss_dota/'
full_val_labels = 'data/DOTA/val/labelTxt/'
patch_size = 1024

model = dict(
    data_preprocessor=dict(boxtype2tensor=True),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet50-0676ba61.pth')),
    bbox_head=dict(
        _delete_=True, type='RotatedRetinaHead', num_classes=15, in_channels=256, stacked_convs=4,
        feat_channels=256,
        anchor_generator=dict(type='RotatedAnchorGenerator', octave_base_scale=4, scales_per_octave=3,
                              ratios=[1.0, 0.5, 2.0], strides=[8, 16, 32, 64, 128]),
        bbox_coder=dict(type='DeltaXYWHTCoder', target_means=(0., 0., 0., 0., 0.),
                        target_stds=(1., 1., 1., 1., 1.), proj_xy=True, edge_swap=True),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=dict(assigner=dict(iou_calculator=dict(type='RotatedBoxOverlaps2D'))),
    test_cfg=dict(nms_pre=2000, min_bbox_size=0, score_thr=0.05, nms=dict(type='nms_rotated', iou_threshold=0.1),
                  max_per_img=2000))

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
    dict(type='LoadAnnotations', with_bbox=True, box_type='rbox'),  # after Resize: ground truth stays in pixels
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
unlabelled_test_pipeline = [t for t in test_pipeline if t['type'] != 'LoadAnnotations']
train_dataloader = dict(
    batch_size=2, num_workers=2,
    dataset=dict(_delete_=True, type='DOTADataset', data_root=data_root, ann_file='trainval/labelTxt/',
                 data_prefix=dict(img='trainval/images/'), filter_cfg=dict(filter_empty_gt=True),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=2,
    dataset=dict(_delete_=True, type='DOTADataset', data_root=data_root, ann_file='val/labelTxt/',
                 data_prefix=dict(img='val/images/'), ignore_difficult=True, test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=2, num_workers=2,
    dataset=dict(_delete_=True, type='DOTADataset', data_root=data_root, ann_file='',
                 data_prefix=dict(img='test/images/'), test_mode=True, pipeline=unlabelled_test_pipeline))
val_evaluator = dict(_delete_=True, type='DOTAMetric', eval_mode='area', merge_patches=True, merge_iou_thr=0.1,
                     full_ann_dir=full_val_labels)
# DOTA's test labels are not public: write Task1 files for the evaluation server.
test_evaluator = dict(_delete_=True, type='DOTAMetric', merge_patches=True, merge_iou_thr=0.1,
                      outfile_prefix='work_dirs/dota_test_task1')

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.0025, momentum=0.9, weight_decay=0.0001),
                     clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0 / 3, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
auto_scale_lr = dict(base_batch_size=2)
# Inference on whole aerial images (convzoo.apis.Inferencer, tools/infer.py): split into these patches and merge.
infer_split = dict(size=patch_size, gap=200, iou_thr=0.1)
