# PConv alone on the embedded dataset.
_base_ = '../../_base_/retinanet_shapes_demo.py'
model = dict(neck=[{{_base_.fpn}}, {{_base_.pconv}}], bbox_head=dict(type='SEPCRetinaHead', stacked_convs=0))
