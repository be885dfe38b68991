# Oriented R-CNN with a plain (16-base-channel) ResNet-50 on the embedded DOTA-format data: the demo baseline.
_base_ = './_base_/oriented_rcnn_dota_objects.py'
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'
