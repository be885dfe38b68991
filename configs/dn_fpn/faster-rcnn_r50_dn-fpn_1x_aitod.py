# DN-FPN (Liu et al., "A DeNoising FPN With Transformer R-CNN for Tiny Object Detection", IEEE TGRS 2024) on
# Faster R-CNN R50-FPN, AI-TOD, 1x schedule: the detector's own losses plus the geometric and semantic contrastive
# losses between C2-C5 (1x1 channel transfer) and P2-P5, weighted by 0.1 (the paper's value; the reference's latest
# code uses 0.01). Training only: inference is plain Faster R-CNN. 2 images per GPU (at least 2 are needed).
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', './_base_/dn_fpn_aitod.py']
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'  # convzoo's safe, strict checkpoint loading, also under mmdet's/mmseg's tools
model = dict(
    type='DNFPNFasterRCNN',
    dn_fpn_loss=dict(type='DNFPNContrastiveLoss', in_channels=(256, 512, 1024, 2048), channels=256,
                     backbone_indices=(0, 1, 2, 3), neck_indices=(0, 1, 2, 3), loss_weight=0.1),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet50-0676ba61.pth')),
    roi_head=dict(bbox_head=dict(num_classes=8)),
    test_cfg=dict(rcnn=dict(max_per_img=1500)))
train_dataloader = {{_base_.aitod_train_dataloader}}
val_dataloader = {{_base_.aitod_test_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.aitod_evaluator}}
test_evaluator = val_evaluator
auto_scale_lr = dict(base_batch_size=16)
