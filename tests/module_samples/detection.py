"""Tiny-input samples of the detection modules for tests/test_registered_modules.py."""
import torch

C = 8
PYRAMID = [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]
ANCHORS = dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=3, ratios=[0.5, 1.0, 2.0],
               strides=[8, 16, 32, 64, 128])


def pyramid(n=2, c=C):
    return [torch.randn(n, c, h, w) for h, w in PYRAMID]


def pairs(n=2, c=C):
    return [(torch.randn(n, c, h, w), torch.randn(n, c, h, w)) for h, w in PYRAMID]


# registered name -> (registry scope, config, input factory returning the forward's positional arguments)
SAMPLES = {
    'SEPC': ('mmdet', dict(type='SEPC', in_channels=[C] * 5, out_channels=C, pconv_deform=True,
                           lcconv_deform=True, ibn=True), lambda: (pyramid(),)),
    'SEPCRetinaHead': ('mmdet', dict(type='SEPCRetinaHead', num_classes=3, in_channels=C, feat_channels=C,
                                     anchor_generator=ANCHORS), lambda: (pairs(),)),
}
