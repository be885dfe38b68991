# DN-FPN on Cascade R-CNN R50-FPN, AI-TOD, 1x schedule, loss weight 0.1, trained in one phase. The reference's main
# model (DNTR) is a Cascade R-CNN with a DetectoRS backbone/RFP neck and a Trans R-CNN head, which are not part of
# convzoo; this is the same contrastive training on mmdet's Cascade R-CNN. For the maintainers' two-phase schedule
# (first without the loss, then fine-tune with it) use cascade-rcnn_r50_dn-fpn_1x_aitod_phase1.py, then _phase2.py.
_base_ = ['mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py', './_base_/dn_fpn_aitod.py']
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'  # convzoo's safe, strict checkpoint loading, also under mmdet's/mmseg's tools
model = dict(
    type='DNFPNCascadeRCNN',
    dn_fpn_loss=dict(type='DNFPNContrastiveLoss', loss_weight=0.1),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet50-0676ba61.pth')),
    roi_head=dict(bbox_head=[
        dict(type='Shared2FCBBoxHead', num_classes=8, reg_class_agnostic=True,
             bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=stds),
             loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
             loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))
        for stds in ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1], [0.033, 0.033, 0.067, 0.067])]),
    test_cfg=dict(rcnn=dict(max_per_img=1500)))
train_dataloader = {{_base_.aitod_train_dataloader}}
val_dataloader = {{_base_.aitod_test_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.aitod_evaluator}}
test_evaluator = val_evaluator
auto_scale_lr = dict(base_batch_size=16)
