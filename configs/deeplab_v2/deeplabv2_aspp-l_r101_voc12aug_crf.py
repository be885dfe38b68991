# DeepLab v2 ASPP-L on PASCAL VOC 2012 aug with the fully connected CRF at test time (DeepLab's ResNet-101 settings).
_base_ = './deeplabv2_aspp-l_r101_voc12aug.py'
model = dict(test_cfg=dict(crf={{_base_.crf}}))
