# Oriented R-CNN with ARC-ResNet-50 (16 base channels; stages 2-4 adaptive rotated convs, n = 4) on the embedded
# DOTA-format data, trained exactly like the ResNet demo baseline (same data, schedule, seed).
_base_ = './_base_/oriented_rcnn_dota_objects.py'
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'

model = dict(backbone=dict(type='ARCResNet', arc_stages=(False, True, True, True), kernel_number=4))
