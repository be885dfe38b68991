# SSDLite-MobileNetV2 (mmdet's COCO recipe: 320x320, from scratch, SGD 0.015 cosine, 120 epochs of a 5x repeated
# dataset) on PASCAL VOC 07+12 trainval, tested on VOC2007 test with VOC mAP (11-point); 20 classes. Layout:
# data/VOCdevkit/VOC2007 and VOC2012 (docs/detection.md).
_base_ = 'mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py'
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'  # convzoo's safe, strict checkpoint loading, also under mmdet's/mmseg's tools
voc_root = 'data/VOCdevkit/'
model = dict(bbox_head=dict(num_classes=20))
train_dataloader = dict(dataset=dict(dataset=dict(
    _delete_=True, type='ConcatDataset', ignore_keys=['dataset_type'],
    datasets=[dict(type='VOCDataset', data_root=voc_root, ann_file=f'VOC{year}/ImageSets/Main/trainval.txt',
                   data_prefix=dict(sub_data_root=f'VOC{year}/'), filter_cfg=dict(filter_empty_gt=True, min_size=32),
                   pipeline={{_base_.train_pipeline}}) for year in (2007, 2012)])))
val_dataloader = dict(dataset=dict(type='VOCDataset', data_root=voc_root, ann_file='VOC2007/ImageSets/Main/test.txt',
                                   data_prefix=dict(_delete_=True, sub_data_root='VOC2007/')))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='VOCMetric', metric='mAP', eval_mode='11points')
test_evaluator = val_evaluator
