# RCNet on GFL R50, COCO 2017, 1x schedule (paper / reference README: 43.1 box AP). 4 images per GPU, lr 0.01 for
# a total batch of 16, BN in the neck.
_base_ = ['mmdet::gfl/gfl_r50_fpn_1x_coco.py', './_base_/rcnet_neck.py']
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'  # convzoo's safe, strict checkpoint loading, also under mmdet's/mmseg's tools
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet50-0676ba61.pth')),
    neck={{_base_.rcnet}})
train_dataloader = dict(batch_size=4, num_workers=4)
optim_wrapper = dict(optimizer=dict(lr=0.01))
auto_scale_lr = dict(base_batch_size=16)
