# SEPC-lite (deformable cls/reg convs, iBN): the main demo job of 'make demo' on the embedded dataset.
_base_ = '../../_base_/retinanet_shapes_demo.py'
model = dict(neck=[{{_base_.fpn}}, {{_base_.sepc_lite}}], bbox_head=dict(type='SEPCRetinaHead', stacked_convs=0))
