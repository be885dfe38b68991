# Rotated RetinaNet with a plain (16-base-channel) ResNet-50 on the embedded DOTA-format data: the demo baseline.
_base_ = './_base_/rotated_retinanet_dota_objects.py'
