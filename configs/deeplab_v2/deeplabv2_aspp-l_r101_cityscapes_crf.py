# DeepLab v2 ASPP-L on Cityscapes with the fully connected CRF at test time (DeepLab's ResNet-101 settings).
_base_ = './deeplabv2_aspp-l_r101_cityscapes.py'
model = dict(test_cfg=dict(crf={{_base_.crf}}))
