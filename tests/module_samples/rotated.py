"""Tiny-input samples of the ARC and rotated-detection modules for tests/test_registered_modules.py."""
import torch

C = 8

# registered name -> (registry scope, config, input factory returning the forward's positional arguments)
SAMPLES = {
    'AdaptiveRotatedConv2d': ('mmdet', dict(type='AdaptiveRotatedConv2d', in_channels=C, out_channels=C,
                                            kernel_number=4, stride=2), lambda: (torch.randn(2, C, 9, 9),)),
    'ARCResNet': ('mmdet', dict(type='ARCResNet', depth=50, base_channels=4, norm_eval=False, init_cfg=None),
                  lambda: (torch.randn(2, 3, 64, 64),)),
    'RotatedRetinaHead': ('mmdet', dict(type='RotatedRetinaHead', num_classes=3, in_channels=C, feat_channels=C,
                                        stacked_convs=1),
                          lambda: ([torch.randn(2, C, s, s) for s in (16, 8, 4, 2, 1)],)),
}
