# Rotated RetinaNet with ARC-ResNet-50 (16 base channels; stages 2-4 adaptive rotated convs, n = 4) on the embedded
# DOTA-format data, trained exactly like the ResNet demo baseline (same data, schedule, seed).
_base_ = './_base_/rotated_retinanet_dota_objects.py'

model = dict(backbone=dict(type='ARCResNet', arc_stages=(False, True, True, True), kernel_number=4))
