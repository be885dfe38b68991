# Oriented R-CNN with ARC-ResNet-50 (Pu et al., ICCV 2023): every bottleneck 3x3 conv of stages 2-4 becomes an
# adaptive rotated convolution with n = 4 kernels ("RxFFF_n4"), the paper's headline model (77.35 DOTA v1.0 mAP;
# 77.42 with the released checkpoint). As in the reference recipe the backbone learns at half the learning rate;
# everything else is oriented-rcnn_r50_fpn_1x_dota_le90.py. ImageNet-pretrained ARC weights (the reference's)
# converted with `convzoo convert arc IN.pth checkpoints/arc_resnet50_n4_imagenet.pth`.
_base_ = './oriented-rcnn_r50_fpn_1x_dota_le90.py'
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'  # convzoo's safe, strict checkpoint loading, also under mmdet's/mmseg's tools

model = dict(backbone=dict(
    type='ARCResNet', arc_stages=(False, True, True, True), kernel_number=4,
    init_cfg=dict(type='Pretrained', checkpoint='checkpoints/arc_resnet50_n4_imagenet.pth')))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.5)}))
