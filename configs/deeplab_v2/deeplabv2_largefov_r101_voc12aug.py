# DeepLab-LargeFOV on ResNet-101 (the v2 head with the single rate 12), PASCAL VOC 2012 aug.
_base_ = './deeplabv2_aspp-l_r101_voc12aug.py'
model = dict(decode_head=dict(dilations=(12,)))
