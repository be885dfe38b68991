# The demo model with DeepLab's fully connected CRF at test time (its ResNet-101 settings): evaluate a checkpoint
# of deeplabv2_aspp-l_r101_cityscapes_demo.py with this config to compare both metrics with and without the CRF.
_base_ = './deeplabv2_aspp-l_r101_cityscapes_demo.py'
model = dict(test_cfg=dict(crf={{_base_.crf}}))
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                 dict(type='CityscapesOfficialMetric', output_dir='work_dirs/cityscapes_photos_crf_predictions')]
test_evaluator = val_evaluator
