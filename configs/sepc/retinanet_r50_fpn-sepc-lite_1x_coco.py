# SEPC-lite: deformable convs only in the extra cls/reg convs, rigid PConv, iBN (paper: 38.5 box AP).
_base_ = './retinanet_r50_fpn-sepc_1x_coco.py'
model = dict(neck=[{{_base_.fpn}}, {{_base_.sepc_lite}}])
