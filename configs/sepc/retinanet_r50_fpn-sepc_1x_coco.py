# SEPC (full: deformable PConv + deformable cls/reg convs + iBN) on RetinaNet R50-FPN, COCO 2017, 1x schedule.
# Paper: Wang et al., "Scale-Equalizing Pyramid Convolution for Object Detection", CVPR 2020 (39.6 box AP).
# 4 images per GPU (iBN needs >= 4); lr 0.01 is for a total batch of 16 (--auto-scale-lr rescales it).
# Pretrained backbone: torchvision's ResNet-50 file at checkpoints/resnet50-0676ba61.pth (see README.md).
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', './_base_/sepc_necks.py']
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'  # convzoo's safe, strict checkpoint loading, also under mmdet's/mmseg's tools
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet50-0676ba61.pth')),
    neck=[{{_base_.fpn}}, {{_base_.sepc}}],
    bbox_head=dict(type='SEPCRetinaHead', stacked_convs=0))
train_dataloader = dict(batch_size=4, num_workers=4)
auto_scale_lr = dict(base_batch_size=16)
