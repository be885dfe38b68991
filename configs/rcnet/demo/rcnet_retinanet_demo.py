# RCNet (RevFP with DCNv2 fusion + CSN) RetinaNet on the embedded dataset; compare with retinanet_baseline_demo.py,
# trained the same way. The demo backbone gives C3-C5 (32, 64, 128 channels), hence start_level=0.
_base_ = '../../_base_/retinanet_shapes_demo.py'
model = dict(neck=dict(_delete_=True, type='RCNet', in_channels=[32, 64, 128], out_channels={{_base_.channels}},
                       start_level=0, num_outs=5, norm_cfg=dict(type='BN', requires_grad=True)))
