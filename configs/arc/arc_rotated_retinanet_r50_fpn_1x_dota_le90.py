# Rotated RetinaNet with ARC-ResNet-50 (Pu et al., ICCV 2023): every bottleneck 3x3 conv of stages 2-4 becomes an
# adaptive rotated convolution with n = 4 kernels ("RxFFF_n4"); the paper reports +3.03 DOTA v1.0 mAP over the
# ResNet-50 baseline (rotated_retinanet_r50_fpn_1x_dota_le90.py, identical otherwise). As in the reference recipe
# the backbone learns at half the learning rate. ImageNet-pretrained ARC weights (the reference's) converted with
# `convzoo convert arc IN.pth checkpoints/arc_resnet50_n4_imagenet.pth`.
_base_ = './rotated_retinanet_r50_fpn_1x_dota_le90.py'

model = dict(backbone=dict(
    type='ARCResNet', arc_stages=(False, True, True, True), kernel_number=4,
    init_cfg=dict(type='Pretrained', checkpoint='checkpoints/arc_resnet50_n4_imagenet.pth')))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.5)}))
