# Two-phase DN-FPN training (maintainers, DNTR issues #3 and #8: the contrastive loss is sensitive and can diverge
# when trained from the start), phase 1: the Cascade R-CNN of cascade-rcnn_r50_dn-fpn_1x_aitod.py with loss weight 0 (same
# model and checkpoint keys, so phase 2 loads it as it is). Then train cascade-rcnn_r50_dn-fpn_1x_aitod_phase2.py.
_base_ = './cascade-rcnn_r50_dn-fpn_1x_aitod.py'
model = dict(dn_fpn_loss=dict(loss_weight=0.0))
