# Sibling for comparison: mmseg's DeepLab v3 (ASPPHead: 1x1 + three atrous 3x3 + image pooling, concatenated, BN)
# with its auxiliary FCN head, unchanged, in the segmentor that can add the dense CRF (test_cfg.crf) and with both
# Cityscapes evaluators. ImageNet weights from a local file, as in the v2 configs.
_base_ = ['mmseg::deeplabv3/deeplabv3_r101-d8_4xb2-80k_cityscapes-512x1024.py',
          './_base_/checked_cityscapes_pipelines.py']
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'  # convzoo's safe, strict checkpoint loading, also under mmdet's/mmseg's tools
model = dict(type='CRFEncoderDecoder', pretrained=None,
             backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet101_v1c-e67eebb6.pth')),
             test_cfg=dict(mode='whole'))
train_dataloader = dict(dataset=dict(pipeline={{_base_.checked_train_pipeline}}))  # samples checked, as in v2
val_dataloader = dict(dataset=dict(pipeline={{_base_.checked_test_pipeline}}))
test_dataloader = val_dataloader
auto_scale_lr = dict(enable=False, base_batch_size=8)  # mmseg's 4 GPUs x 2 images
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                 dict(type='CityscapesOfficialMetric', output_dir='work_dirs/cityscapes_official_predictions')]
test_evaluator = val_evaluator
