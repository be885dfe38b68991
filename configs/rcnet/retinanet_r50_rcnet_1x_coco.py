# RCNet (RevFP + CSN neck) on RetinaNet R50, COCO 2017, 1x schedule: the paper's 40.2 box AP recipe
# (Zong et al., "RCNet: Reverse Feature Pyramid and Cross-scale Shift Network for Object Detection", ACM MM 2021;
# the FPN baseline is 36.5 by the abstract's +3.7). SGD lr 0.01 with 4 images per GPU, BN in the neck (use SyncBN
# on several GPUs with small per-GPU batches); lr 0.01 is for a total batch of 16 (--auto-scale-lr rescales it).
# Pretrained backbone: torchvision's ResNet-50 file at checkpoints/resnet50-0676ba61.pth (see docs/detection.md).
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', './_base_/rcnet_neck.py']
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'  # convzoo's safe, strict checkpoint loading, also under mmdet's/mmseg's tools
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet50-0676ba61.pth')),
    neck={{_base_.rcnet}})
train_dataloader = dict(batch_size=4, num_workers=4)
optim_wrapper = dict(optimizer=dict(lr=0.01))
auto_scale_lr = dict(base_batch_size=16)
