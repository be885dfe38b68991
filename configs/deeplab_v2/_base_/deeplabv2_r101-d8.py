# DeepLab v2 (TPAMI 2017) model: ResNet-101 (v1c stem) with the last two stages dilated (2, 4), output stride 8,
# and the ASPP-L head (summed fc6-fc7-fc8 branches at rates 6, 12, 18, 24). As in the paper's Caffe models, the
# backbone's batch norms are frozen at their ImageNet statistics. The dense CRF is off here (no test_cfg.crf);
# the *_crf.py configs switch it on (model.test_cfg.crf).
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'  # convzoo's safe, strict checkpoint loading, also under mmdet's/mmseg's tools
pretrained_backbone = 'checkpoints/resnet101_v1c-e67eebb6.pth'  # mmseg's open-mmlab://resnet101_v1c file
frozen_bn = dict(type='BN', requires_grad=False)
data_preprocessor = dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                         bgr_to_rgb=True, pad_val=0, seg_pad_val=255)
model = dict(
    type='CRFEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNetV1c', depth=101, num_stages=4, out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1), norm_cfg=frozen_bn, norm_eval=True, style='pytorch', contract_dilation=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained_backbone)),
    decode_head=dict(
        type='ASPPv2Head', in_channels=2048, in_index=3, channels=1024, dilations=(6, 12, 18, 24),
        dropout_ratio=0.5, num_classes=19, norm_cfg=None, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))  # add crf=dict(...) (see `crf` below) for the CRF
# DeepLab's fully connected CRF settings for its ResNet-101 models (w1, theta_alpha, theta_beta, w2, theta_gamma)
crf = dict(iterations=10, bilateral_weight=4.0, bilateral_xy_std=67.0, bilateral_rgb_std=3.0, gaussian_weight=3.0,
           gaussian_xy_std=1.0)
