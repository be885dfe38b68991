# DeepLab v2, ResNet-101, ASPP-L (rates 6, 12, 18, 24), Cityscapes fine, 80k iterations at batch 8.
_base_ = './_base_/deeplabv2_cityscapes_schedule.py'
