# DeepLab-LargeFOV on ResNet-101: the v2 head with the single rate 12, Cityscapes fine.
_base_ = './_base_/deeplabv2_cityscapes_schedule.py'
model = dict(decode_head=dict(dilations=(12,)))
