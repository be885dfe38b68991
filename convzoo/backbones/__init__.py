"""Backbones, registered in mmdet's ``MODELS``: ARC-ResNet (adaptive rotated convolution)."""
from convzoo.backbones.arc_resnet import ARCResNet
from convzoo.core.registry import import_room

__all__ = ['ARCResNet']

import_room(__name__, __path__)  # every file registers its modules; a new one needs no line here
