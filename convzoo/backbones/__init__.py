"""Backbones (registered in the host library's ``MODELS``)."""
from convzoo.backbones.arc_resnet import ARCResNet

__all__ = ['ARCResNet']
