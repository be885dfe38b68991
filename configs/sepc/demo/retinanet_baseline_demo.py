# Plain RetinaNet-FPN on the embedded dataset: the baseline the SEPC demos are compared with.
_base_ = '../../_base_/retinanet_shapes_demo.py'
