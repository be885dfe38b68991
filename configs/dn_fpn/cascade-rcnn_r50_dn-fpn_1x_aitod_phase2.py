# Two-phase DN-FPN training, phase 2: fine-tune phase 1's model with the contrastive losses (weight 0.1) with the
# reference's fine-tuning recipe: SGD lr 0.001, 48 epochs, lr steps at 32 and 44, 800x800, 2 images per GPU.
_base_ = './cascade-rcnn_r50_dn-fpn_1x_aitod.py'
load_from = 'work_dirs/cascade-rcnn_r50_dn-fpn_1x_aitod_phase1/epoch_12.pth'
model = dict(dn_fpn_loss=dict(loss_weight=0.1))
max_epochs = 48
train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=0.001))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[32, 44], gamma=0.1),
]
