# DeepLab v2 on Cityscapes, mapped onto mmseg: its Cityscapes pipeline (random 0.5-2x rescaling, 512x1024 crops),
# the paper's optimiser (SGD, momentum 0.9, weight decay 5e-4, base lr 2.5e-4, classifier layers at 10x lr) and
# "poly" schedule (lr * (1 - iter / max_iter)^0.9), 80k iterations at batch 8 (4 GPUs x 2). Every loaded sample is
# checked (CheckSegSample); evaluation reports mmseg's IoUMetric and cityscapesscripts' official evaluator.
_base_ = [
    './deeplabv2_r101-d8.py', 'mmseg::_base_/datasets/cityscapes.py', 'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py', './checked_cityscapes_pipelines.py'
]
crop_size = (512, 1024)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
train_pipeline = {{_base_.checked_train_pipeline}}
test_pipeline = {{_base_.checked_test_pipeline}}
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                 dict(type='CityscapesOfficialMetric', output_dir='work_dirs/cityscapes_official_predictions')]
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=5e-4),
                     paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.0)}))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=80000, by_epoch=False)]
auto_scale_lr = dict(enable=False, base_batch_size=8)  # the recipe's 4 GPUs x 2 images
