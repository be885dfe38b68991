# iBN + PConv: rigid PConv stack with integrated BN over the levels (paper: 37.8 box AP).
_base_ = './retinanet_r50_fpn-sepc_1x_coco.py'
model = dict(neck=[{{_base_.fpn}}, {{_base_.ibn_pconv}}])
