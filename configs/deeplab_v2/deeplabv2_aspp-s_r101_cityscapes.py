# DeepLab v2, ResNet-101, ASPP-S (rates 2, 4, 8, 12), Cityscapes fine.
_base_ = './_base_/deeplabv2_cityscapes_schedule.py'
model = dict(decode_head=dict(dilations=(2, 4, 8, 12)))
