# iBN + PConv on the embedded dataset.
_base_ = '../../_base_/retinanet_shapes_demo.py'
model = dict(neck=[{{_base_.fpn}}, {{_base_.ibn_pconv}}], bbox_head=dict(type='SEPCRetinaHead', stacked_convs=0))
