# Full SEPC (deformable PConv and cls/reg convs, iBN) on the embedded dataset.
_base_ = '../../_base_/retinanet_shapes_demo.py'
model = dict(neck=[{{_base_.fpn}}, {{_base_.sepc}}], bbox_head=dict(type='SEPCRetinaHead', stacked_convs=0))
