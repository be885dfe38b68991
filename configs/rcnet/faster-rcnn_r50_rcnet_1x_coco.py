# RCNet on Faster R-CNN R50, COCO 2017, 1x schedule. RCNet's pyramid is P3-P7 (3 backbone levels + 2 pooled), so
# the detector runs on strides 8-128 instead of FPN's 4-64: RPN anchors keep their sizes (32-512 px: scale 4 on
# strides 8-128 instead of scale 8 on 4-64) and RoIs are pooled from P3-P6. The paper's Faster R-CNN numbers were
# not retrieved; no AP is claimed for this config.
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', './_base_/rcnet_neck.py']
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'  # convzoo's safe, strict checkpoint loading, also under mmdet's/mmseg's tools
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet50-0676ba61.pth')),
    neck={{_base_.rcnet}},
    rpn_head=dict(anchor_generator=dict(scales=[4], strides=[8, 16, 32, 64, 128])),
    roi_head=dict(bbox_roi_extractor=dict(featmap_strides=[8, 16, 32, 64])))
train_dataloader = dict(batch_size=4, num_workers=4)
optim_wrapper = dict(optimizer=dict(lr=0.02))
auto_scale_lr = dict(base_batch_size=16)
