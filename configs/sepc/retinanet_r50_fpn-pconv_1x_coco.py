# PConv alone: rigid PConv stack, no iBN (paper: 37.0 box AP); 2 images per GPU as in the reference config.
_base_ = './retinanet_r50_fpn-sepc_1x_coco.py'
model = dict(neck=[{{_base_.fpn}}, {{_base_.pconv}}])
train_dataloader = dict(batch_size=2, num_workers=2)
