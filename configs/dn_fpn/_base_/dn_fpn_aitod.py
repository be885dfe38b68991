# AI-TOD v1 (COCO-format; 800x800 aerial images, 8 classes, objects mostly under 16 px), as the DN-FPN paper
# trains and tests on it. Layout: data/AI-TOD/{trainval,test}/images/*.png and
# data/AI-TOD/annotations/aitod_{trainval,test}_v1.json (docs/detection.md). Evaluation keeps up to 1500
# detections per image (AI-TOD's protocol) and adds AI-TOD's very tiny / tiny / small / medium AP.
# The variables are prefixed so that this file can be a second base beside an mmdet model config.
aitod_root = 'data/AI-TOD/'
aitod_metainfo = dict(classes=('airplane', 'bridge', 'storage-tank', 'ship', 'swimming-pool', 'vehicle',
                               'person', 'wind-mill'))
aitod_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(800, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
aitod_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(800, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
aitod_train_dataloader = dict(
    batch_size=2,  # DN-FPN needs >= 2 images per GPU: a single image has no negatives (zero loss)
    num_workers=4,
    dataset=dict(type='CocoDataset', data_root=aitod_root, metainfo=aitod_metainfo,
                 ann_file='annotations/aitod_trainval_v1.json', data_prefix=dict(img='trainval/images/'),
                 filter_cfg=dict(filter_empty_gt=True, min_size=0), pipeline=aitod_train_pipeline))
aitod_test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    dataset=dict(type='CocoDataset', data_root=aitod_root, metainfo=aitod_metainfo,
                 ann_file='annotations/aitod_test_v1.json', data_prefix=dict(img='test/images/'),
                 test_mode=True, pipeline=aitod_test_pipeline))
aitod_evaluator = dict(_delete_=True, type='SizeBinCocoMetric', ann_file=aitod_root + 'annotations/aitod_test_v1.json',
                       metric='bbox', proposal_nums=(100, 300, 1500))
